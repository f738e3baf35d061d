"""``manage.py recompute_completion [--as-of DATE | --from DATE --to DATE]``: compute completion snapshots.

The nightly job writes today's snapshot; this command writes any past date's, e.g. to backfill the
history from the start of the programme: figures as of D use only reports approved by D and pilot
states effective by D, so a backfilled day reads as it would have that evening.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from pilots.services.completion import completion_recompute_all


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = "Compute and store completion figures as of a date (default today) or for every day of a range."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=_date, help="One date, YYYY-MM-DD (default: today, Asia/Shanghai).")
        parser.add_argument("--from", dest="date_from", type=_date, help="First date of a range, YYYY-MM-DD.")
        parser.add_argument("--to", dest="date_to", type=_date, help="Last date of a range, YYYY-MM-DD.")

    def handle(self, *args, as_of=None, date_from=None, date_to=None, **options):
        if (date_from is None) != (date_to is None):
            raise CommandError("--from and --to go together.")
        if as_of is not None and date_from is not None:
            raise CommandError("Give either --as-of or --from/--to.")
        if date_from is not None:
            if date_to < date_from:
                raise CommandError("--to is before --from.")
            days = [date_from + dt.timedelta(days=n) for n in range((date_to - date_from).days + 1)]
        else:
            days = [as_of or timezone.localdate()]
        for day in days:
            counts = completion_recompute_all(as_of=day)
            self.stdout.write(f"{day}: " + ", ".join(f"{name} {count}" for name, count in sorted(counts.items())))
