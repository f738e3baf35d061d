"""What the working-day calendar means for the pilots: deadlines to recompute, and a year not yet entered.

- ``calendar_deadlines_moved`` receives the platform's ``calendar_changed`` signal (connected in
  ``PilotsConfig.ready``) and, when a changed date can move a quarter's deadline, enqueues (through the
  outbox, in the changing transaction) today's completion recompute, which stores the reporting rates'
  deadlines and "on time" counts. Every change also has the stored overdue list recomputed (its due
  dates, review waiting times and levels count working days); the reminder sweep computes its due dates
  from the calendar each run, so it follows the change by itself.
- ``calendar_year_notices`` (beat job ``pilots.calendar_year_notices``, daily) tells the provincial
  administrators, in the app and by e-mail, that a year's arrangement is missing: from 1 November of
  the year before until it is entered, at most once a day each.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from pilots import task_names
from pilots.models import Membership, Notification, Organisation
from pilots.periods import periods_between
from pilots.services.overdue import overdue_all_changed
from smartcity.links import site_url
from smartcity.models import CalendarNotice
from smartcity.outbox import outbox_enqueue
from smartcity.workdays import known_years
from tasks_app.models import Programme

logger = logging.getLogger(__name__)

# A deadline moves forward past non-working days: a change this many days after a nominal deadline can move it.
_LONGEST_HOLIDAY = dt.timedelta(days=31)
NOTICE_FROM_MONTH = 11  # 1 November of the year before


def calendar_deadlines_moved(*, dates: list[dt.date], **_signal_kwargs) -> bool:
    """Enqueue today's recompute if one of ``dates`` can move a quarter's deadline of a programme with pilots,
    and the stored overdue list's recompute whatever the dates."""
    if not dates:
        return False
    overdue_all_changed()
    for programme in Programme.objects.filter(pilots__isnull=False).distinct():
        due = dt.timedelta(days=programme.report_due_days)
        first, last = min(dates), max(dates)
        for period in periods_between(first - due - _LONGEST_HOLIDAY, last):
            nominal = period.end + due
            if any(nominal <= day <= nominal + _LONGEST_HOLIDAY for day in dates):
                outbox_enqueue(task=task_names.RECOMPUTE_ALL_COMPLETION,
                               kwargs={"as_of": timezone.localdate().isoformat()})
                return True
    return False


def calendar_years_missing(today: dt.date) -> list[int]:
    """This year, and from 1 November next year, when their arrangement has not been entered."""
    years = [today.year] + ([today.year + 1] if today.month >= NOTICE_FROM_MONTH else [])
    known = known_years()
    return [year for year in years if year not in known]


def calendar_year_notices(*, today: dt.date | None = None) -> dict[str, int]:
    """Tell each provincial administrator once today that a year's arrangement is missing. Idempotent."""
    today = today or timezone.localdate()
    missing = calendar_years_missing(today)
    if not missing:
        return {"notified": 0}
    admins = (Membership.objects.filter(role=Membership.Role.ADMIN, organisation__kind=Organisation.Kind.PROVINCE,
                                        user__is_active=True).select_related("user"))
    notified = 0
    for membership in admins:
        user = membership.user
        try:
            with transaction.atomic():
                CalendarNotice.objects.create(user=user, day=today, years=",".join(map(str, missing)))
                with translation.override(membership.language):
                    title, body = _notice_text(missing)
                Notification.objects.create(user=user, title=title, body=body,
                                            link=site_url("/admin/smartcity/calendarday/"))
        except IntegrityError:
            continue  # told today already (or by a run at the same time)
        notified += 1
        if user.email:
            try:
                send_mail(title, f"{body}\n\n{site_url('/admin/smartcity/calendarday/')}",
                          settings.DEFAULT_FROM_EMAIL, [user.email])
            except Exception:  # the in-app notice stands; tomorrow's run tells them again
                logger.exception("calendar notice: could not e-mail %s", user.email)
    return {"notified": notified}


def _notice_text(years: list[int]) -> tuple[str, str]:
    label = "、".join(str(year) for year in years) if translation.get_language() != "en" else \
        ", ".join(str(year) for year in years)
    title = _("The holiday arrangement of %(years)s has not been entered") % {"years": label}
    body = _(
        "The working-day calendar does not know the statutory holidays and adjusted working days of %(years)s, "
        "so the reporting deadlines and reminders of %(years)s are provisional: they count weekends only. "
        "Once the State Council publishes its notice on the year's holiday arrangement, enter it: import the "
        "year as JSON or CSV (POST /api/v1/calendar/import/ or manage.py import_calendar FILE), or add the "
        "days in the admin under Calendar days. The README's section on the working-day calendar shows the format."
    ) % {"years": label}
    return title, body
