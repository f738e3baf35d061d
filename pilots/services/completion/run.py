"""What one recompute run knows: its date, rules and scope, and each pilot as the rules see it then."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from pilots.models import (
    CompletionRollup,
    CompletionSettings,
    Pilot,
)
from tasks_app.models import Programme

Scope = CompletionRollup.Scope
State = Pilot.State
# Goal attainment: pilots in these states as of the date count as designated (not revoked, not failed).
DESIGNATED_STATES = (State.DESIGNATED, State.UNDER_CONSTRUCTION, State.ACCEPTED)
# The forecast gives no date further out than this: a flat trend is "no projection", not a date in 2090.


@dataclass(frozen=True)
class PilotAsOf:
    """A pilot as the rules see it on the as-of date."""

    pilot_id: int
    state: str
    prefecture_id: int
    is_demo: bool
    construction_start: dt.date
    construction_end: dt.date

    @property
    def counted(self) -> bool:
        """Counted in prefecture, province, task and department figures: every state but revoked."""
        return self.state != State.REVOKED



@dataclass
class _Run:
    programme: Programme
    as_of: dt.date
    rules: CompletionSettings
    run_at: dt.datetime
    cutoff: dt.datetime  # the first instant after the as-of day, Asia/Shanghai
    weight: str  # SQL for a sub-task's weight (all weights zero: every sub-task weighs 1)
    subtask_count: int
    pilot: Pilot | None  # None: every pilot
    received: dict | None = None  # reports received, by prefecture, quarter and demo or not (both variants)

    @property
    def full(self) -> bool:
        return self.pilot is None



def _stale(run: _Run, real_only: bool) -> Q:
    """Rows of this date and variant that this run did not write (a pilot no longer designated, …)."""
    return Q(as_of=run.as_of, real_only=real_only, computed_at__lt=run.run_at)
