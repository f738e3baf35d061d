from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """When each periodic job last finished successfully: one row per Celery task name, updated in place.

    Written by ``smartcity.jobs`` after every successful run of a scheduled task; ``/metrics`` reports
    its age, so an operator sees a nightly job that stopped running (or keeps failing).
    """

    task = models.CharField(_("task"), max_length=200, unique=True, help_text=_("The Celery task's name."))
    finished_at = models.DateTimeField(_("last finished at"))

    class Meta:
        verbose_name = _("periodic job run")
        verbose_name_plural = _("periodic job runs")
        ordering = ["task"]

    def __str__(self) -> str:
        return f"{self.task} {self.finished_at:%Y-%m-%d %H:%M:%S}"
