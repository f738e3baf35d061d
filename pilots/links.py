"""Where a person and an integrator find a thing: its dashboard page and its API URL.

A person is sent to a page (the pilot's dashboard page, at the section the thing is in), never at
JSON; an integrator gets the API URL as a separate field. Both are absolute, built by
``smartcity.links.site_url`` from ``SITE_URL``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from pilots.models import ReminderKind
from smartcity.links import site_url

# The section of the pilot page each thing is shown in (the ids of its headings).
REPORTS_SECTION = "h-rep"
MILESTONES_SECTION = "h-ms"
OVERDUE_SECTION = "h-overdue"


def pilot_page(pilot_id: int, section: str = "") -> str:
    return site_url(f"/dashboard/pilots/{pilot_id}/" + (f"#{section}" if section else ""))


def report_page(pilot_id: int) -> str:
    """A report is shown (and reviewed) in its pilot's report list."""
    return pilot_page(pilot_id, REPORTS_SECTION)


def report_api(report_id: int) -> str:
    return site_url(f"/api/v1/reports/{report_id}/")


def overdue_page() -> str:
    """The dashboard's overdue list: the overview for the province, one's own prefecture for an office."""
    return site_url(f"/dashboard/#{OVERDUE_SECTION}")


def overdue_api() -> str:
    return site_url("/api/v1/overdue/")


def item_links(*, kind: str, pilot_id: int, subtask_code: str, period: str, report_id: int | None,
               milestone_id: int | None) -> tuple[str, str]:
    """An overdue item's (page, API URL)."""
    if kind == ReminderKind.MILESTONE_BEHIND:
        return pilot_page(pilot_id, MILESTONES_SECTION), site_url(f"/api/v1/milestones/{milestone_id}/")
    if report_id is not None:
        return report_page(pilot_id), report_api(report_id)
    # A report not yet submitted: the pilot's reports, and the report list filtered to the missing one.
    query = urlencode({"pilot": pilot_id, "subtask": subtask_code, "period": period})
    return report_page(pilot_id), site_url(f"/api/v1/reports/?{query}")


def reminder_api_url(reminder) -> str:
    """A sent ``Reminder``'s item in the API (its ``link`` is the page, as sent); needs its ``subtask``."""
    return item_links(kind=reminder.kind, pilot_id=reminder.pilot_id, subtask_code=reminder.subtask.code,
                      period=reminder.period, report_id=reminder.report_id, milestone_id=reminder.milestone_id)[1]


__all__ = ["item_links", "overdue_api", "overdue_page", "pilot_page", "reminder_api_url", "report_api", "report_page"]
