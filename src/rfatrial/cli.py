"""The ``rfatrial`` command line (Typer + Rich).

Exit codes: 0 success, 1 a check found problems, 2 bad input (malformed JSON, a history or a
protocol that breaks its schema): the message names the path of the bad field, never a traceback.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rfatrial import __version__
from rfatrial.kernel.batch_planner import plan_for_patient
from rfatrial.kernel.evaluation import Evaluation, to_json_dict
from rfatrial.kernel.history import HistoryError, PatientHistory, parse_history
from rfatrial.kernel.pathway import evaluate as evaluate_history
from rfatrial.kernel.protocol import (
    Protocol,
    ProtocolError,
    default_protocol,
    default_protocol_path,
    load_protocol,
)
from rfatrial.report_command import report
from rfatrial.server.cli import (
    audit_app,
    backup_command,
    load_command,
    migrate_command,
    restore_command,
    serve_command,
)
from rfatrial.simulation.cli import simulate_app

app = typer.Typer(
    help="rfatrial: run the staged-RFA study (protocol, patients, engine).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
protocol_app = typer.Typer(help="Show or check the study protocol file.", no_args_is_help=True)
schema_app = typer.Typer(help="Print the JSON Schema of a data format.", no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")
app.add_typer(schema_app, name="schema")
app.add_typer(simulate_app, name="simulate")
# The study database: `rfatrial migrate`, `rfatrial load DIR`, `rfatrial audit verify`.
app.command("migrate")(migrate_command)
app.command("load")(load_command)
app.command("serve")(serve_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.add_typer(audit_app, name="audit")
app.command("report")(report)

out = Console()

ProtocolOption = Annotated[
    Path | None,
    typer.Option("--protocol", help="A protocol TOML file (default: the shipped protocol)."),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _protocol(path: Path | None) -> Protocol:
    try:
        return default_protocol() if path is None else load_protocol(path)
    except ProtocolError as exc:
        raise _fail(str(exc)) from None


def _parse_date(text: str | None, name: str) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{name}: '{text}' is not a date (YYYY-MM-DD)") from None


@app.command()
def version() -> None:
    """Print the software version."""
    out.print(__version__)


@protocol_app.command("show")
def protocol_show(protocol: ProtocolOption = None) -> None:
    """Print the protocol readably."""
    p = _protocol(protocol)
    out.print(f"[bold]{p.study.title}[/]")
    out.print(f"version {p.study.version}, effective {p.study.effective_date.isoformat()}")
    for section, model in p:
        if section == "study":
            continue
        table = Table(title=section, show_header=False, title_justify="left")
        table.add_column("key", style="cyan")
        table.add_column("value")
        for key in type(model).model_fields:
            table.add_row(key, _readable(getattr(model, key)))
        out.print(table)


def _readable(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, list):
        return "\n".join(_readable(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_readable(v)}" for k, v in value.items())
    return str(value)


@protocol_app.command("check")
def protocol_check(file: Annotated[Path, typer.Argument(help="The protocol TOML file.")]) -> None:
    """Validate a protocol file; report each bad key and the rule it breaks."""
    p = _protocol(file)
    out.print(f"{file}: valid protocol, version {p.study.version}")


@schema_app.command("history")
def schema_history() -> None:
    """Print the JSON Schema of the patient history format."""
    typer.echo(json.dumps(PatientHistory.model_json_schema(), indent=2))


def _read_history(path: Path) -> PatientHistory:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise _fail(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        return parse_history(text, source=str(path))
    except HistoryError as exc:
        raise _fail(str(exc)) from None


@app.command()
def evaluate(
    history: Annotated[Path, typer.Argument(help="A patient history JSON file.")],
    today: Annotated[
        str | None, typer.Option(help="Evaluate as of this date (YYYY-MM-DD; default today).")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="json or table.")] = "json",
    protocol: ProtocolOption = None,
) -> None:
    """Evaluate a patient: phase, responses, next actions and deviations."""
    if format not in ("json", "table"):
        raise _fail(f"--format: '{format}' is not one of json, table")
    p = _protocol(protocol)
    h = _read_history(history)
    result = evaluate_history(h, p, _parse_date(today, "--today"))
    if format == "json":
        typer.echo(json.dumps(to_json_dict(result), indent=2, ensure_ascii=False))
    else:
        print_evaluation(result)


@app.command()
def plan(
    history: Annotated[Path, typer.Argument(help="A patient history JSON file.")],
    today: Annotated[
        str | None, typer.Option(help="Plan as of this date (YYYY-MM-DD; default today).")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="json or table.")] = "table",
    protocol: ProtocolOption = None,
) -> None:
    """Propose the next ablation session: each remaining lesion judged, the sessions left split."""
    if format not in ("json", "table"):
        raise _fail(f"--format: '{format}' is not one of json, table")
    p = _protocol(protocol)
    h = _read_history(history)
    result = evaluate_history(h, p, _parse_date(today, "--today"))
    proposal = plan_for_patient(h, result, p)
    if format == "json":
        typer.echo(json.dumps(to_json_dict(proposal), indent=2, ensure_ascii=False))
        return
    out.rule(f"[bold]{h.patient_id}[/] — ablation plan as of {result.today}")
    t = Table(title=f"Remaining lesions ({proposal.sessions_left} session(s) left)")
    for c in ("lesion", "size mm", "verdict", "reasons", "warnings"):
        t.add_column(c)
    for v in proposal.verdicts:
        size = "" if v.diameter_mm is None else f"{v.diameter_mm:g}"
        t.add_row(v.lesion_id, size, v.verdict, "; ".join(v.reasons), "; ".join(v.warnings))
    out.print(t)
    for k, session in enumerate(proposal.sessions, start=result.rfa_sessions_done + 1):
        out.print(f"session {k}: " + ", ".join(session))
    if proposal.beyond_limit:
        out.print("beyond the session limit: " + ", ".join(proposal.beyond_limit))


def print_evaluation(r: Evaluation) -> None:
    """A readable summary of one evaluation."""
    out.rule(f"[bold]{r.patient_id}[/] — {r.arm or 'not randomized'} — as of {r.today}")
    out.print(
        f"phase: [bold]{r.phase}[/]   cycles: {r.cycles_given}   RFA sessions: "
        f"{r.rfa_sessions_done}   liver NED: {'yes' if r.liver_ned else 'no'}"
        + (f"   RFA pathway ended: {r.rfa_stopped}" if r.rfa_stopped else "")
    )
    if r.lesions_remaining:
        out.print("lesions remaining: " + ", ".join(r.lesions_remaining))
    if r.responses:
        t = Table(title="Responses (RECIST 1.1)", title_justify="left")
        for c in ("date", "modality", "overall", "target", "sum mm", "vs baseline", "effective"):
            t.add_column(c)
        for x in r.responses:
            change = "" if x.change_from_baseline is None else f"{x.change_from_baseline:+.0%}"
            t.add_row(
                x.date.isoformat(),
                x.modality,
                x.overall,
                x.target_response or "-",
                "" if x.sum_mm is None else f"{x.sum_mm:g}",
                change,
                "yes" if x.effective else "no",
            )
        out.print(t)
    if r.lab_gate is not None:
        g = r.lab_gate
        out.print(f"lab gate for session {g.session}: [bold]{g.decision}[/]")
    t = Table(title="Next actions", title_justify="left")
    for c in ("what", "earliest", "target", "latest", "why", "rule"):
        t.add_column(c)
    for a in r.next_actions:
        style = "red" if a.overdue else None
        t.add_row(
            a.what,
            a.earliest.isoformat(),
            a.target.isoformat(),
            a.latest.isoformat(),
            a.why,
            a.rule,
            style=style,
        )
    out.print(t)
    if r.deviations:
        t = Table(title="Protocol deviations", title_justify="left")
        for c in ("date", "code", "description", "rule"):
            t.add_column(c)
        for d in r.deviations:
            t.add_row(d.date.isoformat(), d.code, d.description, d.rule, style="yellow")
        out.print(t)
    else:
        out.print("no protocol deviation")
    for issue in r.data_issues:
        out.print(f"[magenta]data issue:[/] {issue}")


def example_paths() -> list[Path]:
    """The example histories shipped with the package."""
    folder = resources.files("rfatrial") / "examples"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".json"))


@app.command()
def examples(
    today: Annotated[str | None, typer.Option(help="Evaluate as of this date.")] = None,
) -> None:
    """Evaluate the bundled example patients and print what is due for each."""
    p = default_protocol()
    out.print(
        f"[bold]rfatrial {__version__}[/] — protocol {p.study.short_title} v{p.version}"
        f" ({default_protocol_path()})"
    )
    for path in example_paths():
        h = _read_history(path)
        day = _parse_date(today, "--today") if today else max(e.date for e in h.events)
        print_evaluation(evaluate_history(h, p, day))


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the web server.")] = 8000,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (add it to RFATRIAL_ALLOWED_HOSTS unless local)."),
    ] = "127.0.0.1",
) -> None:
    """Serve the study web application with a simulated 3-site study and demo logins."""
    from rfatrial.server.demo import serve_demo

    serve_demo(port, host=host)
