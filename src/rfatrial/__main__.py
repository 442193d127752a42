"""``python -m rfatrial``: the command line."""

from rfatrial.cli import app

app(prog_name="rfatrial")
