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
from smartcity.models.versioned import VersionedModel


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


# One capital letter per programme keeps codes distinct across programmes (T3 in 2020, Q3 in 2024), so that a
# filter such as ``?subtask=T4.1`` names one sub-task whichever programmes are loaded.
_task_code = RegexValidator(
    r"^[A-Z]\d+$", _("A task code is a capital letter followed by a number, e.g. T3 or Q3.")
)
_subtask_code = RegexValidator(
    r"^[A-Z]\d+\.\d+$", _("A sub-task code is the task code, a dot and a number, e.g. T3.1.")
)


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


# --- Indicators, targets and evaluation trees ----------------------------------------------------
#
# A programme measures progress by quantified indicators with dated targets, and may carry an evaluation
# tree (GB/T 33356 style) that turns indicator attainment into a score out of 100. All of it is catalog
# data: loaded from the programme's fixture, editable by the provincial office, every change audited.
# Each row says whether it is a sourced fact or our default (``basis``) and where it comes from
# (``source``). The rules on whole rows and trees live in ``tasks_app/services.py``.


class Basis(models.TextChoices):
    FACT = "fact", _("fact, from the cited source")
    DEFAULT = "default", _("default, to be confirmed")


_indicator_code = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$", _("A code is letters, digits, dots, hyphens and underscores, e.g. Q3.8-5G.")
)


class SourcedMixin(models.Model):
    basis = models.CharField(_("basis"), max_length=10, choices=Basis.choices, default=Basis.DEFAULT)
    source = models.TextField(
        _("source"), blank=True,
        help_text=_("Where a fact comes from (document, section, URL), or why it is a default."),
    )

    class Meta:
        abstract = True


class Indicator(BilingualNameMixin, SourcedMixin, VersionedModel):
    """A quantified indicator of a programme, evidencing one sub-task or one task."""

    class Kind(models.TextChoices):
        COUNT = "count", _("count")
        AMOUNT = "amount", _("amount in 万元")
        RATE = "rate", _("rate in %")
        YES_NO = "yes_no", _("yes or no")

    class Direction(models.TextChoices):
        HIGHER = "higher", _("higher is better")
        LOWER = "lower", _("lower is better")

    class Rollup(models.TextChoices):
        SUM = "sum", _("sum")
        MEAN = "mean", _("mean")
        WEIGHTED_MEAN = "weighted_mean", _("weighted mean")
        MAX = "max", _("maximum")
        SHARE_MEETING = "share_meeting", _("share of pilots meeting the target")

    # The unit a kind implies; a count names its own (个, 项, 万个…).
    KIND_UNITS = {Kind.AMOUNT: ("万元", "10,000 yuan"), Kind.RATE: ("%", "%"), Kind.YES_NO: ("", "")}

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="indicators")
    code = models.CharField(_("code"), max_length=40, validators=[_indicator_code])
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    unit_zh = models.CharField(_("unit (Chinese)"), max_length=20, blank=True)
    unit_en = models.CharField(_("unit (English)"), max_length=40, blank=True)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices, default=Direction.HIGHER)
    rollup = models.CharField(
        _("roll-up"), max_length=20, choices=Rollup.choices,
        help_text=_("How pilot values roll up to a prefecture and to the province."),
    )
    rollup_weight = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="weighting",
        verbose_name=_("roll-up weight"),
        help_text=_("For a weighted mean: the indicator whose value weighs each pilot (e.g. population)."),
    )
    task = models.ForeignKey(
        Task, on_delete=models.PROTECT, null=True, blank=True, related_name="indicators",
        help_text=_("The task it evidences, when it evidences a whole task rather than one sub-task."),
    )
    subtask = models.ForeignKey(
        SubTask, on_delete=models.PROTECT, null=True, blank=True, related_name="indicators",
        verbose_name=_("sub-task"),
    )
    baseline_value = models.DecimalField(_("baseline value"), max_digits=18, decimal_places=4, null=True, blank=True)
    baseline_on = models.DateField(_("baseline date"), null=True, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        ordering = ["programme__code", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "code"], name="indicator_code_unique"),
            models.CheckConstraint(
                condition=Q(task__isnull=True, subtask__isnull=False) | Q(task__isnull=False, subtask__isnull=True),
                name="indicator_evidences_one",
            ),
            models.CheckConstraint(
                condition=Q(baseline_value__isnull=True, baseline_on__isnull=True)
                | Q(baseline_value__isnull=False, baseline_on__isnull=False),
                name="indicator_baseline_whole",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    @property
    def evidenced_programme_id(self) -> int | None:
        if self.subtask_id:
            return self.subtask.task.programme_id
        if self.task_id:
            return self.task.programme_id
        return None

    def value_error(self, value: Decimal) -> ValidationError | None:
        """Why ``value`` cannot be a value of this indicator, or None: the one rule for baselines, targets and
        reported values alike: a rate within 0–100, yes/no as 1 or 0, a count a whole number, no kind negative."""
        value = Decimal(value)
        if not value.is_finite():
            return ValidationError(_("The value must be a finite number."), code="invalid")
        if self.kind == self.Kind.RATE and not Decimal("0") <= value <= Decimal("100"):
            return ValidationError(_("A rate is a percentage within 0–100."), code="rate_range")
        if self.kind == self.Kind.YES_NO and value not in (Decimal("0"), Decimal("1")):
            return ValidationError(_("A yes/no indicator takes 1 (yes) or 0 (no)."), code="yes_no")
        if self.kind == self.Kind.COUNT and value != value.to_integral_value():
            return ValidationError(_("A count is a whole number."), code="whole_number")
        if value < 0:
            return ValidationError(_("The value cannot be negative."), code="min_value")
        return None


class IndicatorTarget(SourcedMixin, VersionedModel):
    """A dated milestone of an indicator at one level: the province, one prefecture or one pilot."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("province")
        PREFECTURE = "prefecture", _("prefecture")
        PILOT = "pilot", _("pilot")

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="targets")
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    # The scope by its code (GB/T 2260: a prefecture 510100, a pilot's county 510108), empty for the province:
    # codes are what fixtures can name, and they survive a reload where ids would not.
    scope_code = models.CharField(_("scope code"), max_length=12, blank=True)
    due_on = models.DateField(_("due on"))
    value = models.DecimalField(_("target value"), max_digits=18, decimal_places=4)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("indicator target")
        verbose_name_plural = _("indicator targets")
        ordering = ["indicator__programme__code", "indicator__order", "indicator__code", "level", "scope_code",
                    "due_on"]
        constraints = [
            models.UniqueConstraint(fields=["indicator", "level", "scope_code", "due_on"], name="target_once"),
            models.CheckConstraint(
                condition=Q(level="province", scope_code="") | (~Q(level="province") & ~Q(scope_code="")),
                name="target_scope_matches_level",
            ),
        ]

    def __str__(self) -> str:
        scope = self.scope_code or self.get_level_display()
        return f"{self.indicator.code} {scope} {self.due_on}: {self.value}"


class EvaluationTree(BilingualNameMixin, SourcedMixin, VersionedModel):
    """A weighted tree of evaluation indicators (e.g. GB/T 33356-2016) that a programme scores pilots by."""

    TOTAL = Decimal("100")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="evaluation_trees")
    code = models.SlugField(_("code"), max_length=40)
    edition = models.CharField(_("edition"), max_length=60, blank=True, help_text=_("e.g. GB/T 33356-2016"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("evaluation tree")
        verbose_name_plural = _("evaluation trees")
        ordering = ["programme__code", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["programme", "code"], name="evaluation_tree_code_unique")]


class EvaluationNode(BilingualNameMixin, SourcedMixin):
    """A first-level, second-level or item indicator of an evaluation tree, with its weight (points of 100).

    A node with children weighs the sum of its children's weights, the first level sums to 100, weights
    have two decimals (GB/T 33356). An item is scored from an indicator by ``rule``: linear from baseline
    to target, by thresholds (``rule_params``: ``{"thresholds": [[value, share], …]}``, share 0–1 of the
    weight from that value on), or yes/no. A node without children that is not an item is structure whose
    lower levels are not in our sources: it scores nothing until the office completes it.
    """

    class Level(models.TextChoices):
        FIRST = "first", _("first-level indicator")
        SECOND = "second", _("second-level indicator")
        ITEM = "item", _("item indicator")

    class Rule(models.TextChoices):
        LINEAR = "linear", _("linear to the target")
        THRESHOLDS = "thresholds", _("thresholds")
        YES_NO = "yes_no", _("yes or no")

    PARENT_LEVEL = {Level.FIRST: None, Level.SECOND: Level.FIRST, Level.ITEM: Level.SECOND}

    tree = models.ForeignKey(EvaluationTree, on_delete=models.CASCADE, related_name="nodes")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    code = models.CharField(_("code"), max_length=40, validators=[_indicator_code])
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    weight = models.DecimalField(
        _("weight"), max_digits=5, decimal_places=2, validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Points out of 100; a node with children weighs the sum of its children."),
    )
    indicator = models.ForeignKey(
        Indicator, on_delete=models.PROTECT, null=True, blank=True, related_name="evaluation_items"
    )
    rule = models.CharField(_("scoring rule"), max_length=12, choices=Rule.choices, blank=True)
    rule_params = models.JSONField(_("rule parameters"), default=dict, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("evaluation node")
        verbose_name_plural = _("evaluation nodes")
        ordering = ["tree", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["tree", "code"], name="evaluation_node_code_unique"),
            models.CheckConstraint(
                condition=Q(level="item") | Q(indicator__isnull=True, rule=""), name="evaluation_rule_on_items_only"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh} ({self.weight})"
