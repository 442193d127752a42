"""The ``rfatrial`` command line."""

import typer

app = typer.Typer(help="rfatrial: run the staged-RFA study.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the software version."""
    from rfatrial import __version__

    typer.echo(__version__)
