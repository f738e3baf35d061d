"""Which rows exist for an actor: one rule, that each model's queryset declares its paths into.

A prefecture office sees what belongs to its own prefecture; a provincial department, of that, only what
concerns the sub-tasks it takes part in; every other member (the province, an integrator) sees everything;
someone who belongs to no organisation sees nothing. A model says where its rows lead:

- ``prefecture_path``: the lookup from a row to its prefecture (``"pilot__prefecture"``); None when the
  rows belong to no prefecture (the catalog: every member reads all of it);
- ``department_path``: the lookup from a row to the departments of its sub-task
  (``"subtask__assignments__department"``); None when a department sees every row;
- ``province_wide()``: the rows a prefecture office sees besides its own (the province-wide figures);
- ``own_rows(actor)``: a different notion of "its own", where the rows name an organisation rather than a
  prefecture (reminders are listed to the office they were sent to).

The rows outside an actor's scope are not forbidden but absent (``smartcity.auth.access``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ScopedQuerySet(models.QuerySet):
    prefecture_path: str | None = None
    department_path: str | None = None

    def province_wide(self) -> Q | None:
        """Rows every prefecture office sees, whatever their prefecture (None: no such rows)."""
        return None

    def own_rows(self, actor) -> Q | None:
        """A prefecture office's own rows (None: every row, when the rows belong to no prefecture)."""
        if self.prefecture_path is None:
            return None
        return Q(**{f"{self.prefecture_path}_id": actor.prefecture_id})

    def visible_to(self, actor):
        if actor.prefecture_id is not None:
            own, wide = self.own_rows(actor), self.province_wide()
            rows = self if own is None else self.filter(own if wide is None else wide | own)
        elif actor.sees_all_prefectures:
            rows = self
        else:
            return self.none()
        if self.department_path is not None and actor.department_id is not None:
            rows = rows.filter(**{f"{self.department_path}_id": actor.department_id})
        return rows


__all__ = ["ScopedQuerySet"]
