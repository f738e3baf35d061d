"""The registry: prefectures, pilots and their life cycle, organisations and who belongs to them."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from smartcity.auth.roles import OrganisationKind, Role
from smartcity.auth.scoping import ScopedQuerySet
from tasks_app.models import BilingualNameMixin, CatalogQuerySet, Department, Programme

division_code = RegexValidator(r"^\d{6}$", _("A GB/T 2260 division code has six digits."))


class Prefecture(BilingualNameMixin):
    """A 市(州), identified by its GB/T 2260 code."""

    code = models.CharField(_("code"), max_length=6, unique=True, validators=[division_code])

    objects = CatalogQuerySet.as_manager()  # geography: every member may read all 21

    class Meta:
        verbose_name = _("prefecture")
        verbose_name_plural = _("prefectures")
        ordering = ["code"]


class PilotQuerySet(ScopedQuerySet):
    prefecture_path = "prefecture"  # a prefecture office sees only its own pilots


class Pilot(BilingualNameMixin):
    """A county-level unit (县、市、区) designated as a provincial pilot under a programme."""

    class State(models.TextChoices):
        DESIGNATED = "designated", _("designated")
        UNDER_CONSTRUCTION = "under_construction", _("under construction")
        ACCEPTED = "accepted", _("accepted")
        FAILED_ACCEPTANCE = "failed_acceptance", _("failed acceptance")
        REVOKED = "revoked", _("revoked")

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="pilots")
    prefecture = models.ForeignKey(Prefecture, on_delete=models.PROTECT, related_name="pilots")
    code = models.CharField(_("county code"), max_length=6, validators=[division_code])
    batch_year = models.PositiveSmallIntegerField(_("batch"))
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.DESIGNATED)
    designated_on = models.DateField(_("designated on"))
    construction_start = models.DateField(_("construction starts"))
    construction_end = models.DateField(_("construction ends"))
    is_demo = models.BooleanField(
        _("demo data"), default=False, help_text=_("Invented for demonstration; never an official designation.")
    )
    source_note = models.CharField(_("source"), max_length=300, blank=True)

    objects = PilotQuerySet.as_manager()

    class Meta:
        verbose_name = _("pilot")
        verbose_name_plural = _("pilots")
        ordering = ["programme", "prefecture__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "code"], name="pilot_code_unique_in_programme"),
            models.CheckConstraint(
                condition=Q(construction_end__gte=models.F("construction_start")),
                name="pilot_construction_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name_zh}{' [演示]' if self.is_demo else ''}"

    def clean(self) -> None:
        if self.code and self.prefecture_id and self.code[:4] != self.prefecture.code[:4]:
            raise ValidationError({"code": _("The county code does not lie in the chosen prefecture.")})
        if self.construction_start and self.construction_end and self.construction_end < self.construction_start:
            raise ValidationError({"construction_end": _("Construction cannot end before it starts.")})


class PilotStateChange(models.Model):
    """The life-cycle history, so that a pilot's state can be read as of any past date."""

    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="state_changes")
    state = models.CharField(_("state"), max_length=20, choices=Pilot.State.choices)
    effective_on = models.DateField(_("effective on"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("pilot state change")
        verbose_name_plural = _("pilot state changes")
        ordering = ["pilot", "effective_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pilot", "state", "effective_on"], name="pilot_state_change_unique")
        ]

    def __str__(self) -> str:
        return f"{self.pilot} → {self.get_state_display()} ({self.effective_on})"


class Organisation(BilingualNameMixin):
    """An office whose members use the service: the province, a prefecture, a department, an integrator."""

    Kind = OrganisationKind  # the platform's vocabulary (smartcity.auth.roles): the access policy reads it

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    prefecture = models.OneToOneField(
        Prefecture, null=True, blank=True, on_delete=models.PROTECT, related_name="office"
    )
    department = models.OneToOneField(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="office"
    )
    contact_email = models.EmailField(_("contact email"), blank=True)
    leadership_email = models.EmailField(
        _("leadership contact email"), blank=True, help_text=_("Told when a reminder escalates.")
    )

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["kind", "code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="prefecture") & Q(prefecture__isnull=False)) | (~Q(kind="prefecture") & Q(prefecture__isnull=True)),
                name="organisation_prefecture_iff_prefecture_office",
            ),
            models.CheckConstraint(
                condition=(Q(kind="department") & Q(department__isnull=False)) | (~Q(kind="department") & Q(department__isnull=True)),
                name="organisation_department_iff_department_office",
            ),
        ]


class Membership(models.Model):
    """A user's place: one organisation and one role."""

    Role = Role  # the platform's vocabulary (smartcity.auth.roles): the access policy reads it

    # Which roles make sense in which kind of organisation.
    ROLES_BY_KIND = {
        Organisation.Kind.PROVINCE: {Role.REVIEWER, Role.VIEWER, Role.ADMIN},
        Organisation.Kind.PREFECTURE: {Role.REPORTER, Role.VIEWER},
        Organisation.Kind.DEPARTMENT: {Role.VIEWER},
        Organisation.Kind.INTEGRATOR: {Role.INTEGRATOR},
    }

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("role"), max_length=12, choices=Role.choices)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.get_role_display()})"

    def clean(self) -> None:
        if self.organisation_id and self.role not in self.ROLES_BY_KIND[self.organisation.kind]:
            raise ValidationError({"role": _("This role is not available in this kind of organisation.")})
