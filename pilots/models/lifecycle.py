"""The pilot life cycle as records: application rounds, applications, designation, acceptance (验收).

《四川省新型智慧城市试点示范管理办法(试行)》 (2022-10-25), 第二条 and 第四条 (**fact**): each year's application guide
(申报指南) names who may apply; the provincial department leads selection, acceptance and rewards and penalties,
each prefecture's leading body leads application, implementation and construction management. The 2020 batch
(**fact**, announced 2021-01-22) went through 自主申报 → 市(州)人民政府推荐 → 专家评审 → 网上公示. What a step records
beyond that (score criteria and their ranges, quotas, the acceptance conclusions and the rectification) is a
**default** the provincial office sets per round.

Every step is a transition row with who, when (the date it took effect, and the time it was recorded) and why;
the state of an application or an acceptance as of a past date is the last transition effective by then.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.utils.translation import gettext_lazy as _

from pilots.models.registry import division_code
from smartcity.models import VersionedModel
from smartcity.auth.scoping import ScopedQuerySet

# The score sheet a round uses when it names none (a **default**: the 管理办法's own criteria are not in our
# sources). Each criterion is scored from 0 to its maximum; the total is their sum, out of 100.
DEFAULT_SELECTION_CRITERIA = [
    {"code": "basis", "name_zh": "建设基础", "name_en": "Existing foundation", "max_score": 30},
    {"code": "plan", "name_zh": "实施方案", "name_en": "Implementation plan", "max_score": 40},
    {"code": "support", "name_zh": "保障措施与配套条件", "name_en": "Guarantees and supporting conditions",
     "max_score": 30},
]
DEFAULT_ACCEPTANCE_CRITERIA = [
    {"code": "tasks", "name_zh": "建设任务完成情况", "name_en": "Construction tasks completed", "max_score": 50},
    {"code": "results", "name_zh": "应用成效", "name_en": "Results in use", "max_score": 30},
    {"code": "management", "name_zh": "建设管理与资金使用", "name_en": "Management and use of funds",
     "max_score": 20},
]


class _PrefectureScopedQuerySet(ScopedQuerySet):
    """A prefecture office sees its own prefecture's records; the other members see the whole province."""

    prefecture_path = "prefecture"

    def with_state_as_of(self, day):
        """Annotate ``state_as_of``: the state after the last step effective on or before ``day``; rows that did
        not exist yet by then are left out."""
        steps = self.model.steps.rel.related_model.objects.filter(
            **{self.model.steps.rel.field.name: OuterRef("pk")}, effective_on__lte=day,
        ).order_by("-effective_on", "-id")
        return self.annotate(state_as_of=Subquery(steps.values("to_state")[:1])).filter(state_as_of__isnull=False)


class ApplicationRoundQuerySet(ScopedQuerySet):
    """A round and its guide are public to every member (no prefecture path)."""


class ApplicationRound(VersionedModel):
    """One year's call for applications under a programme, with its guide (申报指南)."""

    programme = models.ForeignKey("tasks_app.Programme", on_delete=models.PROTECT, related_name="application_rounds")
    year = models.PositiveSmallIntegerField(_("year"), help_text=_("The batch the designated pilots belong to."))
    title = models.CharField(_("title"), max_length=300)
    guide_title = models.CharField(_("application guide"), max_length=300)
    guide_url = models.URLField(_("guide address"), max_length=500, blank=True)
    guide_document_number = models.CharField(_("document number"), max_length=100, blank=True)
    opens_on = models.DateField(_("applications open on"))
    closes_on = models.DateField(_("applications close on"))
    selection_criteria = models.JSONField(_("expert review criteria"), default=list, blank=True)
    acceptance_criteria = models.JSONField(_("acceptance criteria"), default=list, blank=True)
    is_demo = models.BooleanField(_("demo data"), default=False)
    source_note = models.CharField(_("source"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ApplicationRoundQuerySet.as_manager()

    class Meta:
        verbose_name = _("application round")
        verbose_name_plural = _("application rounds")
        ordering = ["programme", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "year"], name="round_one_per_programme_year"),
            models.CheckConstraint(condition=Q(closes_on__gte=models.F("opens_on")), name="round_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.title}{' [演示]' if self.is_demo else ''}"

    def criteria_for(self, kind: str) -> list[dict]:
        criteria = self.selection_criteria if kind == "selection" else self.acceptance_criteria
        return criteria or (DEFAULT_SELECTION_CRITERIA if kind == "selection" else DEFAULT_ACCEPTANCE_CRITERIA)


class RoundQuota(models.Model):
    """How many applications a prefecture may recommend in a round; a prefecture without a row has no quota."""

    round = models.ForeignKey(ApplicationRound, on_delete=models.CASCADE, related_name="quotas")
    prefecture = models.ForeignKey("pilots.Prefecture", on_delete=models.PROTECT, related_name="+")
    quota = models.PositiveSmallIntegerField(_("quota"))

    class Meta:
        verbose_name = _("recommendation quota")
        verbose_name_plural = _("recommendation quotas")
        ordering = ["round", "prefecture__code"]
        constraints = [models.UniqueConstraint(fields=["round", "prefecture"], name="round_quota_one_per_prefecture")]

    def __str__(self) -> str:
        return f"{self.round} · {self.prefecture.code}: {self.quota}"


class PilotApplication(VersionedModel):
    """A county's application in a round, filed by its prefecture office, and every step taken on it."""

    class State(models.TextChoices):
        APPLIED = "applied", _("applied")
        RECOMMENDED = "recommended", _("recommended by the prefecture")
        REVIEWED = "reviewed", _("passed the expert review")
        REJECTED = "rejected", _("not selected by the expert review")
        ON_NOTICE = "on_notice", _("on public notice")
        DESIGNATED = "designated", _("designated")
        DECLINED = "declined", _("declined")

    class Conclusion(models.TextChoices):
        PASS = "pass", _("selected")
        FAIL = "fail", _("not selected")

    round = models.ForeignKey(ApplicationRound, on_delete=models.PROTECT, related_name="applications")
    prefecture = models.ForeignKey("pilots.Prefecture", on_delete=models.PROTECT, related_name="applications")
    county_code = models.CharField(_("county code"), max_length=6, validators=[division_code])
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    plan_summary = models.TextField(_("declared plan"))
    planned_investment = models.DecimalField(_("planned investment (万元)"), max_digits=14, decimal_places=2,
                                             null=True, blank=True)
    construction_start = models.DateField(_("construction starts"))
    construction_end = models.DateField(_("construction ends"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.APPLIED)
    # The prefecture's recommendation.
    recommendation_rank = models.PositiveSmallIntegerField(_("rank"), null=True, blank=True)
    recommendation_opinion = models.TextField(_("prefecture's opinion"), blank=True)
    # The province's expert review.
    reviewers = models.JSONField(_("experts"), default=list, blank=True)
    scores = models.JSONField(_("scores"), default=dict, blank=True)
    total_score = models.DecimalField(_("total score"), max_digits=6, decimal_places=2, null=True, blank=True)
    conclusion = models.CharField(_("conclusion"), max_length=4, choices=Conclusion.choices, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    # The public notice.
    notice_starts_on = models.DateField(_("notice starts"), null=True, blank=True)
    notice_ends_on = models.DateField(_("notice ends"), null=True, blank=True)
    objections = models.TextField(_("objections received"), blank=True)
    # Designation.
    pilot = models.ForeignKey("pilots.Pilot", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="applications", help_text=_("Set on designation."))
    is_demo = models.BooleanField(_("demo data"), default=False)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = _PrefectureScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("pilot application")
        verbose_name_plural = _("pilot applications")
        ordering = ["round", "prefecture__code", "recommendation_rank", "county_code"]
        constraints = [
            models.UniqueConstraint(fields=["round", "county_code"], name="application_one_per_county_and_round"),
            models.UniqueConstraint(fields=["round", "prefecture", "recommendation_rank"],
                                    condition=Q(recommendation_rank__isnull=False),
                                    name="application_rank_unique_in_prefecture"),
            models.CheckConstraint(condition=Q(construction_end__gte=models.F("construction_start")),
                                   name="application_construction_window_ordered"),
        ]
        indexes = [models.Index(fields=["state", "round"], name="application_state_idx")]

    def __str__(self) -> str:
        return f"{self.round.year} · {self.name_zh}{' [演示]' if self.is_demo else ''}"


class ApplicationStep(models.Model):
    """One step taken on an application: who, when it took effect, when it was recorded, and why."""

    application = models.ForeignKey(PilotApplication, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(_("action"), max_length=12)
    from_state = models.CharField(max_length=12, choices=PilotApplication.State.choices, blank=True)
    to_state = models.CharField(max_length=12, choices=PilotApplication.State.choices)
    effective_on = models.DateField(_("effective on"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"))
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("application step")
        verbose_name_plural = _("application steps")
        ordering = ["application_id", "effective_on", "id"]

    def __str__(self) -> str:
        return f"{self.application_id} {self.action} {self.effective_on}"


class AcceptanceQuerySet(_PrefectureScopedQuerySet):
    prefecture_path = "pilot__prefecture"


class Acceptance(VersionedModel):
    """A pilot's acceptance (验收): the prefecture's application, the province's reviews, any rectification."""

    class State(models.TextChoices):
        APPLIED = "applied", _("applied for acceptance")
        RECTIFYING = "rectifying", _("rectification required")
        RESUBMITTED = "resubmitted", _("rectification submitted")
        PASSED = "passed", _("passed")
        FAILED = "failed", _("failed")
        REVOKED = "revoked", _("designation revoked")

    class Conclusion(models.TextChoices):
        PASSED = "passed", _("passed")
        RECTIFY = "rectify", _("rectify by a date (整改)")
        FAILED = "failed", _("failed")

    pilot = models.ForeignKey("pilots.Pilot", on_delete=models.PROTECT, related_name="acceptances")
    self_assessment = models.TextField(_("self-assessment"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.APPLIED)
    rectify_by = models.DateField(_("rectify by"), null=True, blank=True)
    rectification_report = models.TextField(_("rectification report"), blank=True)
    is_demo = models.BooleanField(_("demo data"), default=False,
                                  help_text=_("An invented result for demonstration; no acceptance result is sourced."))
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AcceptanceQuerySet.as_manager()

    class Meta:
        verbose_name = _("acceptance")
        verbose_name_plural = _("acceptances")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open acceptance per pilot at a time; a failed or revoked one stays as history.
            models.UniqueConstraint(fields=["pilot"], condition=Q(state__in=["applied", "rectifying", "resubmitted",
                                                                              "passed"]),
                                    name="acceptance_one_open_per_pilot"),
        ]
        indexes = [models.Index(fields=["state", "rectify_by"], name="acceptance_state_idx")]

    def __str__(self) -> str:
        return f"{self.pilot} · 验收 {self.get_state_display()}{' [演示]' if self.is_demo else ''}"


class AcceptanceReview(models.Model):
    """One review by the province's experts; a rectification is reviewed again (sequence 2, 3, …)."""

    acceptance = models.ForeignKey(Acceptance, on_delete=models.CASCADE, related_name="reviews")
    sequence = models.PositiveSmallIntegerField(_("review number"))
    reviewed_on = models.DateField(_("reviewed on"))
    experts = models.JSONField(_("experts"), default=list)
    scores = models.JSONField(_("scores"), default=dict)
    total_score = models.DecimalField(_("total score"), max_digits=6, decimal_places=2)
    findings = models.TextField(_("findings"), blank=True)
    conclusion = models.CharField(_("conclusion"), max_length=8, choices=Acceptance.Conclusion.choices)
    rectify_by = models.DateField(_("rectify by"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        verbose_name = _("acceptance review")
        verbose_name_plural = _("acceptance reviews")
        ordering = ["acceptance_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["acceptance", "sequence"], name="acceptance_review_sequence_unique"),
            models.CheckConstraint(condition=~Q(conclusion="rectify") | Q(rectify_by__isnull=False),
                                   name="acceptance_review_rectify_has_date"),
        ]

    def __str__(self) -> str:
        return f"{self.acceptance_id} #{self.sequence} {self.conclusion}"


class AcceptanceStep(models.Model):
    """One step of an acceptance, as ``ApplicationStep`` is for an application."""

    acceptance = models.ForeignKey(Acceptance, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(_("action"), max_length=12)
    from_state = models.CharField(max_length=12, choices=Acceptance.State.choices, blank=True)
    to_state = models.CharField(max_length=12, choices=Acceptance.State.choices)
    effective_on = models.DateField(_("effective on"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"))
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("acceptance step")
        verbose_name_plural = _("acceptance steps")
        ordering = ["acceptance_id", "effective_on", "id"]

    def __str__(self) -> str:
        return f"{self.acceptance_id} {self.action} {self.effective_on}"


def lifecycle_document_path(instance: LifecycleDocument, filename: str) -> str:
    # Content-addressed, as report evidence is: the uploader's file name never reaches the file system.
    owner = f"applications/{instance.application_id}" if instance.application_id else \
        f"acceptances/{instance.acceptance_id}"
    return f"lifecycle/{owner}/{instance.sha256}{instance.extension}"


class LifecycleDocument(models.Model):
    """A document of an application (application form, plan) or of an acceptance (self-assessment evidence)."""

    class Kind(models.TextChoices):
        APPLICATION_FORM = "application_form", _("application form (申报书)")
        PLAN = "plan", _("implementation plan (实施方案)")
        SELF_ASSESSMENT = "self_assessment", _("self-assessment report")
        EVIDENCE = "evidence", _("evidence")
        RECTIFICATION = "rectification", _("rectification evidence")
        OTHER = "other", _("other")

    application = models.ForeignKey(PilotApplication, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="documents")
    acceptance = models.ForeignKey(Acceptance, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="documents")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file = models.FileField(upload_to=lifecycle_document_path, max_length=300)
    original_name = models.CharField(_("file name"), max_length=200)
    extension = models.CharField(max_length=10)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("life-cycle document")
        verbose_name_plural = _("life-cycle documents")
        ordering = ["uploaded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(application__isnull=False) & Q(acceptance__isnull=True))
                | (Q(application__isnull=True) & Q(acceptance__isnull=False)),
                name="lifecycle_document_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name
