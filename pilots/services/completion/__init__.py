"""The completion engine: computes and stores completion, schedule variance, flags, forecasts and reporting rates.

Everything is computed in the database, set-based: window functions pick each pilot's latest approved
and pending reports, aggregates make the means, and upserts (``INSERT … SELECT … ON CONFLICT … DO
UPDATE``, which SQLite ≥ 3.35 and PostgreSQL both run) write the rows. Python only loops over
aggregate rows (one per pilot, or per pilot and quarter for the forecast), never over reports.

The definitions (copied into the README):

- *As of D* means: reports approved (``reviewed_at``) on or before D, Asia/Shanghai, and pilot states
  effective on or before D. A pilot with no state history at all counts in its current state from its
  designation day.
- A pilot's completion of a sub-task is the percent of its latest approved report (latest by period,
  then revision); no approved report counts as 0 and is flagged ``no_report``. The latest submitted
  but not yet reviewed figure is kept beside it as *pending* and never enters any mean.
- A pilot's completion of a task, and overall, is the mean of its sub-tasks weighted by
  ``SubTask.weight``. A prefecture, the province, a task across pilots and a department (the
  sub-tasks it leads) across pilots are unweighted means over their pilots. Revoked pilots, and
  pilots not designated by D, are left out.
- Planned percent: 0 at construction start, linear between the milestones of the pilot's plan for
  that sub-task, flat after the last one (no milestones: no plan, no variance). Variance = approved
  minus planned, in points; its status comes from ``CompletionSettings``.
- ``real_only`` rows leave out demo pilots, demo reports and demo plans.

Concurrency: each table's natural key is a unique constraint and every write is an upsert, so two runs
at once cannot duplicate a row; a run then deletes the rows of its date and scope that it did not
write (``computed_at`` older than the run: a pilot no longer designated on that date, …). The
rollups that read other pilots' rows (prefecture, province, task, department, province reporting
rates) are computed after taking a row lock on the programme's ``CompletionSettings``, so two runs
cannot overwrite each other's area figures with a stale read. Every run writes the tables in the same
order and each table in key order (a one-pilot run writes a subset of a full run's rows), so two
runs wait for each other rather than deadlock.

Where things are: ``recompute`` runs it (which pilots count on the date, then each table in order);
``run`` is what one run knows; ``subtasks``, ``rollups`` and ``rates`` hold the SQL of their tables
(``sql``: the helpers they share); ``forecast`` the least-squares projection. The names below stay
importable from ``pilots.services.completion``, as before the split.
"""

from pilots.services.completion.forecast import (  # noqa: F401
    FORECAST_HORIZON_YEARS,
    NO_DATA,
    Forecast,
    forecast_completion,
    forecast_completion_date,
)
from pilots.services.completion.recompute import (  # noqa: F401
    completion_recompute_all,
    completion_recompute_pilot,
    completion_settings_for,
    pilot_states_as_of,
)
from pilots.services.completion.run import DESIGNATED_STATES, PilotAsOf  # noqa: F401
