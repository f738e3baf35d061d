"""The catalog: a programme (a guideline), its pillars, key tasks, sub-tasks and responsible departments.

The catalog is data: the shipped programme is loaded from ``fixtures/programmes/`` and a later
programme (another guideline with its own tasks, targets and deadline) loads beside it.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from smartcity.auth.scoping import ScopedQuerySet


class CatalogQuerySet(ScopedQuerySet):
    """The catalog is open to every member of every organisation: it belongs to no prefecture."""


class BilingualNameMixin(models.Model):
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name_zh


class Programme(models.Model):
    """A guideline whose pilots and tasks are tracked, with its goal and reporting rules."""

    class ReportingPeriod(models.TextChoices):
        QUARTER = "quarter", _("quarterly")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    document_number = models.CharField(_("document number"), max_length=100)
    title_zh = models.CharField(_("title (Chinese)"), max_length=300)
    title_en = models.CharField(_("title (English)"), max_length=300)
    issuer_zh = models.CharField(_("issuer (Chinese)"), max_length=200, blank=True)
    issuer_en = models.CharField(_("issuer (English)"), max_length=200, blank=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    goal_pilot_count = models.PositiveIntegerField(_("goal: number of pilots"))
    goal_deadline = models.DateField(_("goal: deadline"))
    reporting_period = models.CharField(
        _("reporting period"), max_length=10, choices=ReportingPeriod.choices, default=ReportingPeriod.QUARTER
    )
    report_due_days = models.PositiveSmallIntegerField(
        _("report due (days after period end)"),
        default=10,
        help_text=_("A deadline on a non-working day moves to the next working day."),
    )
    source_note = models.TextField(_("source"), blank=True)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.title_zh}({self.document_number})"


class Pillar(BilingualNameMixin):
    """One of the programme's construction focuses or foundational guarantees."""

    class Kind(models.TextChoices):
        FOCUS = "focus", _("construction focus")
        GUARANTEE = "guarantee", _("foundational guarantee")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="pillars")
    code = models.CharField(_("code"), max_length=20)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("pillar")
        verbose_name_plural = _("pillars")
        ordering = ["programme", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["programme", "code"], name="pillar_code_unique")]


_task_code = RegexValidator(r"^T\d+$", _("A task code is T followed by a number, e.g. T3."))
_subtask_code = RegexValidator(r"^T\d+\.\d+$", _("A sub-task code is the task code, a dot and a number, e.g. T3.1."))


class Task(BilingualNameMixin):
    """A key task (重点任务)."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="tasks")
    pillar = models.ForeignKey(Pillar, on_delete=models.PROTECT, related_name="tasks")
    code = models.CharField(_("code"), max_length=10, validators=[_task_code])
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["programme", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["programme", "code"], name="task_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    def clean(self) -> None:
        if self.pillar_id and self.programme_id and self.pillar.programme_id != self.programme_id:
            raise ValidationError({"pillar": _("The pillar belongs to another programme.")})


class SubTask(BilingualNameMixin):
    """A sub-task (子任务): the unit that pilots plan and report against."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="subtasks")
    code = models.CharField(_("code"), max_length=10, validators=[_subtask_code])
    weight = models.DecimalField(
        _("weight"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Relative weight in completion rollups; equal by default."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    departments = models.ManyToManyField(
        "Department", through="SubTaskDepartment", related_name="subtasks", blank=True
    )

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("sub-task")
        verbose_name_plural = _("sub-tasks")
        ordering = ["task__programme", "task__order", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["task", "code"], name="subtask_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    def clean(self) -> None:
        if self.task_id and self.code and not self.code.startswith(f"{self.task.code}."):
            raise ValidationError({"code": _("A sub-task code starts with its task's code and a dot.")})


class Department(BilingualNameMixin):
    """A provincial department that leads or takes part in sub-tasks."""

    code = models.SlugField(_("code"), max_length=40, unique=True)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]


class SubTaskDepartment(models.Model):
    """A department's part in a sub-task: exactly one lead, any number of participants."""

    class Role(models.TextChoices):
        LEAD = "lead", _("lead")
        PARTICIPANT = "participant", _("participant")

    class Basis(models.TextChoices):
        # The guideline's annex (责任分工方案) is not public; the shipped assignment is our default.
        DEFAULT = "default", _("default assignment, to be confirmed")
        OFFICIAL = "official", _("from the official division of responsibilities")

    subtask = models.ForeignKey(SubTask, on_delete=models.CASCADE, related_name="assignments")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="assignments")
    role = models.CharField(_("role"), max_length=12, choices=Role.choices)
    basis = models.CharField(_("basis"), max_length=10, choices=Basis.choices, default=Basis.DEFAULT)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("responsible department")
        verbose_name_plural = _("responsible departments")
        ordering = ["subtask", "role", "department"]
        constraints = [
            models.UniqueConstraint(fields=["subtask", "department"], name="subtask_department_unique"),
            models.UniqueConstraint(fields=["subtask"], condition=Q(role="lead"), name="subtask_one_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.subtask.code} {self.department} ({self.get_role_display()})"
