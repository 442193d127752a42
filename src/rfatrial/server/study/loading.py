"""Loading a directory of history JSON files (the synthetic cohort, or an import), idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.db import IntegrityError

from rfatrial.kernel.history import HistoryError, parse_history
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor
from rfatrial.server.study.convert import history_from_db
from rfatrial.server.study.services import SYSTEM, load_history
from rfatrial.simulation.cohort import MANIFEST

__all__ = ["LoadReport", "load_directory"]


@dataclass(slots=True)
class LoadReport:
    """What a load did, file by file."""

    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.errors


def load_directory(
    directory: str | Path, *, actor: Actor = SYSTEM, today: date | None = None
) -> LoadReport:
    """Store every ``*.json`` history of ``directory`` whose patient is not stored yet.

    A simulated cohort's ``manifest.json`` is not a history and is passed over.

    A patient already stored with the same history is left alone (loading twice stores nothing
    new); one stored with a different history is a conflict, never overwritten: changes to stored
    data are amendments with a reason. Each patient is loaded in its own transaction.
    """
    report = LoadReport()
    directory = Path(directory)
    if not directory.is_dir():
        report.errors.append(f"{directory}: not a directory")
        return report
    for path in sorted(directory.glob("*.json")):
        if path.name == MANIFEST:  # what the simulator says of its cohort, not a patient
            continue
        try:
            history = parse_history(path.read_bytes(), source=str(path))
        except HistoryError as exc:
            report.errors.append(str(exc))
            continue
        name = f"{path.name} ({history.site}/{history.patient_id})"
        stored = (
            m.Patient.objects.select_related("site")
            .filter(site__code=history.site, study_id=history.patient_id)
            .first()
        )
        if stored is None:
            try:
                load_history(history, actor=actor, reason=f"imported from {path.name}", today=today)
            except IntegrityError as exc:  # loaded meanwhile by someone else
                report.conflicts.append(f"{name}: not stored ({exc})")
            else:
                report.created.append(name)
        elif history_from_db(stored).model_dump() == history.model_dump():
            report.unchanged.append(name)
        else:
            report.conflicts.append(
                f"{name}: this patient is stored with a different history; correct it by"
                " amendments (with reasons), not by loading"
            )
    return report
