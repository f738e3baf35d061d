"""China's working-day calendar as data: the statutory holidays and adjusted working days (调休) of each year.

The State Council publishes each year's arrangement in the autumn before it (《国务院办公厅关于20XX年部分节假日
安排的通知》); the provincial office enters it (admin, API or ``manage.py import_calendar``). A day not
listed is a working day from Monday to Friday. A year counts as *known* only once its whole arrangement
has been entered (a ``CalendarYear`` row); deadlines in other years are provisional.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from smartcity.models.versioned import VersionedModel


class CalendarQuerySet(models.QuerySet):
    def visible_to(self, actor):
        """The calendar is public knowledge: everyone signed in reads it."""
        return self if actor.user is not None else self.none()


class CalendarYear(models.Model):
    """A year whose whole arrangement has been entered: its deadlines are facts, not provisional."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    source = models.CharField(_("source"), max_length=500,
                              help_text=_("Where the arrangement was published: the notice's title or URL."))
    entered_at = models.DateTimeField(_("entered at"), auto_now=True)

    objects = CalendarQuerySet.as_manager()

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)


class CalendarDay(VersionedModel):
    """One day that is not what its weekday says: a statutory holiday, or a weekend day worked instead (调休)."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("statutory holiday")
        WORKDAY = "workday", _("adjusted working day (调休)")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, help_text=_("The holiday it belongs to, e.g. 春节."))
    source = models.CharField(_("source"), max_length=500, blank=True,
                              help_text=_("Where the arrangement was published: the notice's title or URL."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CalendarQuerySet.as_manager()

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=["holiday", "workday"]), name="calendar_day_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name} ({self.get_kind_display()})"


class CalendarRevision(models.Model):
    """One row whose number grows with every change of the calendar: each process's cache checks it."""

    number = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("calendar revision")
        verbose_name_plural = _("calendar revisions")


class CalendarNotice(models.Model):
    """That a person was told on a day that a year's arrangement is missing: at most one notice a day each.

    The unique key is what makes two notice jobs running at once tell a person once.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    years = models.CharField(_("years missing"), max_length=40)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("calendar notice")
        verbose_name_plural = _("calendar notices")
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="calendar_notice_once_a_day")]
