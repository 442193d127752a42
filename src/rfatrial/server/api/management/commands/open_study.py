"""``python -m rfatrial.server open_study SEED``: open the study (seed and list hash, once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rfatrial.server.api.randomize import RandomizationError, open_study
from rfatrial.server.study.audit import Actor


class Command(BaseCommand):
    help = "Open the study: record the randomization seed, generate the lists, fix their hash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("seed", type=int)
        parser.add_argument("--slots-per-stratum", type=int, default=100)
        parser.add_argument("--by", default="administrator", help="Who opens (audit trail).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            study = open_study(
                options["seed"],
                actor=Actor(options["by"]),
                slots_per_stratum=options["slots_per_stratum"],
            )
        except (RandomizationError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"study open: {study.method}, seed recorded, list SHA-256 {study.list_hash or '-'}"
        )
