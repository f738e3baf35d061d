"""manage.py import_calendar FILE: enter a whole year's holiday arrangement (JSON or CSV; see the README)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from smartcity.audit import ChangeContext
from smartcity.working_calendar import calendar_year_import, parse_arrangement


class Command(BaseCommand):
    help = ("Replace one year's statutory holidays and adjusted working days with the arrangement in FILE "
            "(.json or .csv) and mark the year known; all or nothing.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="The arrangement, .json or .csv, UTF-8.")
        parser.add_argument("--format", choices=["json", "csv"], help="Default: from the file's extension.")

    def handle(self, *args, file: str, format: str | None = None, **options):
        path = Path(file)
        file_format = format or path.suffix.lower().lstrip(".")
        if file_format not in ("json", "csv"):
            raise CommandError("Give a .json or .csv file, or --format.")
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        try:
            arrangement = parse_arrangement(content, file_format=file_format)
            calendar_year = calendar_year_import(arrangement=arrangement, context=ChangeContext.command())
        except ValidationError as exc:
            lines = [f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()]
            raise CommandError("Nothing was imported:\n" + "\n".join(lines)) from exc
        kinds = [row["kind"] for row in arrangement["days"]]
        self.stdout.write(f"{calendar_year.year}: {kinds.count('holiday')} holidays and {kinds.count('workday')} "
                          f"adjusted working days entered; the year is known.")
