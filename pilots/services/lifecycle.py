"""Writes on the pilot life cycle: rounds, applications up to designation, and acceptance (验收).

Each step is one function that locks the record, checks the step is allowed in its state (out of order:
``InvalidTransition``, 409), checks its input (a ``ValidationError`` naming each field, 400), then records a
step row (who, effective date, recorded time, why), bumps the record's version (``If-Match``) and writes an
audit entry, all in one transaction: a refused step writes nothing.

The order (**fact** for the 2020 batch, from the 2021-01-22 announcement: 自主申报、市(州)人民政府推荐、专家评审和网上公示):
applied → recommended → reviewed (or rejected) → on notice → designated; the province may decline an
application at any step before designation. Acceptance: applied → passed / failed / rectifying →
resubmitted → passed / failed; a failed pilot's designation may then be revoked. The score sheets, the one
rectification per acceptance and the "findings required" rules are **defaults** (see README).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pilots.models import (
    Acceptance,
    AcceptanceReview,
    AcceptanceStep,
    ApplicationRound,
    ApplicationStep,
    LifecycleDocument,
    Pilot,
    PilotApplication,
    PilotStateChange,
    Prefecture,
    RoundQuota,
)
from pilots.services.evidence import evidence_check
from pilots.services.registry import pilot_create
from smartcity.audit import ChangeContext, audit_record, create_audited, snapshot
from smartcity.concurrency import bump_version, lock_version
from smartcity.exceptions import InvalidTransition
from tasks_app.models import Programme

App = PilotApplication.State
Acc = Acceptance.State
# A pilot may apply for acceptance while it is being built; any other state has had its acceptance.
ACCEPTANCE_OPEN_TO = (Pilot.State.DESIGNATED, Pilot.State.UNDER_CONSTRUCTION)


# --- Rounds -------------------------------------------------------------------------------------

def criteria_check(criteria: Any, *, field: str) -> list[dict[str, Any]]:
    """A score sheet: a list of ``{code, name_zh, name_en, max_score}`` with distinct codes and positive maxima."""
    if criteria in (None, []):
        return []
    problems = []
    if not isinstance(criteria, list):
        raise ValidationError({field: _("A list of criteria, each with code, name_zh, name_en and max_score.")})
    codes = set()
    cleaned = []
    for index, item in enumerate(criteria):
        if not isinstance(item, dict) or not str(item.get("code", "")).strip() or not item.get("name_zh"):
            problems.append(_("Criterion %(n)s needs a code and a name_zh.") % {"n": index + 1})
            continue
        try:
            maximum = Decimal(str(item.get("max_score")))
        except (InvalidOperation, ValueError):
            maximum = Decimal(0)
        if not maximum.is_finite() or maximum <= 0 or maximum > 1000:
            problems.append(_("Criterion %(code)s needs a max_score above 0 and at most 1000.") % {"code": item["code"]})
        if item["code"] in codes:
            problems.append(_("Criterion code %(code)s appears twice.") % {"code": item["code"]})
        codes.add(item["code"])
        cleaned.append({"code": str(item["code"]).strip(), "name_zh": str(item["name_zh"]),
                        "name_en": str(item.get("name_en", "")), "max_score": str(maximum)})
    if problems:
        raise ValidationError({field: problems})
    return cleaned


def round_create(
    *, programme: Programme, year: int, title: str, guide_title: str, opens_on: dt.date, closes_on: dt.date,
    context: ChangeContext, guide_url: str = "", guide_document_number: str = "",
    quotas: list[tuple[Prefecture, int]] = (), selection_criteria: Any = None, acceptance_criteria: Any = None,
    is_demo: bool = False, source_note: str = "",
) -> ApplicationRound:
    """Open a year's application round with its guide, dates, quotas per prefecture and score sheets."""
    errors: dict[str, Any] = {}
    if closes_on < opens_on:
        errors["closes_on"] = _("Applications cannot close before they open.")
    if ApplicationRound.objects.filter(programme=programme, year=year).exists():
        errors["year"] = _("This programme already has a round for %(year)s.") % {"year": year}
    seen = set()
    for prefecture, _quota in quotas:
        if prefecture.pk in seen:
            errors["quotas"] = _("Prefecture %(code)s has two quotas.") % {"code": prefecture.code}
        seen.add(prefecture.pk)
    try:
        selection = criteria_check(selection_criteria, field="selection_criteria")
        acceptance = criteria_check(acceptance_criteria, field="acceptance_criteria")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        round_ = ApplicationRound(
            programme=programme, year=year, title=title, guide_title=guide_title, guide_url=guide_url or "",
            guide_document_number=guide_document_number or "", opens_on=opens_on, closes_on=closes_on,
            selection_criteria=selection, acceptance_criteria=acceptance, is_demo=is_demo,
            source_note=source_note or "",
        )
        try:
            with transaction.atomic():
                create_audited(instance=round_, context=context)
        except IntegrityError:
            raise ValidationError({"year": _("This programme already has a round for this year.")}) from None
        for prefecture, quota in quotas:
            create_audited(instance=RoundQuota(round=round_, prefecture=prefecture, quota=quota), context=context)
    return round_


# --- Applications -------------------------------------------------------------------------------

def application_file(
    *, round_: ApplicationRound, prefecture: Prefecture, county_code: str, name_zh: str, plan_summary: str,
    construction_start: dt.date, construction_end: dt.date, context: ChangeContext, name_en: str = "",
    planned_investment: Decimal | None = None, comment: str = "",
) -> PilotApplication:
    """The prefecture office files a county's application, inside the round's dates, for a county of its own."""
    today = timezone.localdate()
    errors: dict[str, str] = {}
    if not round_.opens_on <= today <= round_.closes_on:
        errors["round"] = _("Round %(year)s takes applications from %(opens)s to %(closes)s; today is %(today)s.") % {
            "year": round_.year, "opens": round_.opens_on, "closes": round_.closes_on, "today": today}
    if county_code[:4] != prefecture.code[:4]:
        errors["county_code"] = _("County %(code)s does not lie in %(prefecture)s; a prefecture office files for "
                                  "its own counties only.") % {"code": county_code, "prefecture": prefecture.name_zh}
    elif PilotApplication.objects.filter(round=round_, county_code=county_code).exists():
        errors["county_code"] = _("County %(code)s has already applied in this round.") % {"code": county_code}
    if construction_end < construction_start:
        errors["construction_end"] = _("Construction cannot end before it starts.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        application = PilotApplication(
            round=round_, prefecture=prefecture, county_code=county_code, name_zh=name_zh, name_en=name_en or "",
            plan_summary=plan_summary, planned_investment=planned_investment, construction_start=construction_start,
            construction_end=construction_end, is_demo=round_.is_demo, filed_by=_user(context),
        )
        application.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                application.save(force_insert=True)
        except IntegrityError:  # a concurrent filing for the same county
            raise ValidationError({"county_code": _("This county has already applied in this round.")}) from None
        audit_record(context=context, action="create", instance=application, before=None,
                     after=snapshot(application))
        _application_step(application, "apply", "", App.APPLIED, today, context, comment)
    return application


def application_recommend(
    *, application_id: int, expected_version: int | None, rank: int, opinion: str, context: ChangeContext,
) -> PilotApplication:
    """The prefecture ranks the application among those it recommends, within its quota if the round sets one."""
    with transaction.atomic():
        round_id = PilotApplication.objects.values_list("round_id", flat=True).get(pk=application_id)
        # The round first: every recommendation of a round queues here, so two cannot both take the last place.
        lock_version(ApplicationRound, round_id, None)
        application = lock_version(PilotApplication, application_id, expected_version)
        _require_state(application, App.APPLIED, _("recommended"))
        errors: dict[str, str] = {}
        if not (opinion or "").strip():
            errors["opinion"] = _("Give the prefecture's opinion on the application.")
        quota = RoundQuota.objects.filter(round_id=round_id, prefecture_id=application.prefecture_id) \
            .values_list("quota", flat=True).first()
        recommended = PilotApplication.objects.filter(round_id=round_id, prefecture_id=application.prefecture_id,
                                                      recommendation_rank__isnull=False)
        if quota is not None and recommended.count() >= quota:
            errors["rank"] = _("The prefecture's quota in this round is %(quota)s and it has recommended %(n)s "
                               "already.") % {"quota": quota, "n": recommended.count()}
        elif quota is not None and rank > quota:
            errors["rank"] = _("A rank from 1 to the quota, %(quota)s.") % {"quota": quota}
        elif recommended.filter(recommendation_rank=rank).exists():
            errors["rank"] = _("Another recommended application already has rank %(rank)s.") % {"rank": rank}
        if errors:
            raise ValidationError(errors)
        return _application_advance(application, "recommend", App.RECOMMENDED, timezone.localdate(), context,
                                    opinion, recommendation_rank=rank, recommendation_opinion=opinion)


def scores_check(*, criteria: list[dict[str, Any]], scores: Any) -> tuple[dict[str, str], Decimal]:
    """Every criterion scored once, each from 0 to its maximum, at most two decimals; returns the scores and total."""
    errors: dict[str, str] = {}
    if not isinstance(scores, dict):
        raise ValidationError({"scores": _("An object of scores by criterion code.")})
    known = {item["code"]: Decimal(str(item["max_score"])) for item in criteria}
    cleaned: dict[str, str] = {}
    for code in scores:
        if code not in known:
            errors[f"scores.{code}"] = _("No such criterion; the criteria are %(codes)s.") % {
                "codes": ", ".join(known)}
    for code, maximum in known.items():
        if code not in scores:
            errors[f"scores.{code}"] = _("Score every criterion.")
            continue
        try:
            value = Decimal(str(scores[code]))
        except (InvalidOperation, ValueError):
            value = None
        if value is None or not value.is_finite() or isinstance(scores[code], bool):
            errors[f"scores.{code}"] = _("A number.")
        elif not 0 <= value <= maximum:
            errors[f"scores.{code}"] = _("From 0 to %(max)s.") % {"max": maximum}
        elif value != value.quantize(Decimal("0.01")):
            errors[f"scores.{code}"] = _("At most two decimals.")
        else:
            cleaned[code] = str(value.quantize(Decimal("0.01")))
    if errors:
        raise ValidationError(errors)
    return cleaned, sum((Decimal(v) for v in cleaned.values()), Decimal("0"))


def application_review(
    *, application_id: int, expected_version: int | None, reviewers: list[str], scores: dict[str, Any],
    conclusion: str, findings: str, context: ChangeContext, reviewed_on: dt.date | None = None,
) -> PilotApplication:
    """The province records its experts' review: who, the score per criterion, the conclusion and findings."""
    with transaction.atomic():
        application = lock_version(PilotApplication, application_id, expected_version,
                                   queryset=PilotApplication.objects.select_related("round"))
        _require_state(application, App.RECOMMENDED, _("reviewed"))
        reviewed_on = _effective(application.steps, reviewed_on, "reviewed_on")
        errors: dict[str, Any] = {}
        reviewers = [name.strip() for name in reviewers or [] if str(name).strip()]
        if not reviewers:
            errors["reviewers"] = _("Name at least one expert.")
        if conclusion == PilotApplication.Conclusion.FAIL and not (findings or "").strip():
            errors["findings"] = _("An application not selected needs the experts' findings.")
        try:
            cleaned, total = scores_check(criteria=application.round.criteria_for("selection"), scores=scores)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)
        to_state = App.REVIEWED if conclusion == PilotApplication.Conclusion.PASS else App.REJECTED
        return _application_advance(application, "review", to_state, reviewed_on, context, findings,
                                    reviewers=reviewers, scores=cleaned, total_score=total, conclusion=conclusion,
                                    findings=findings or "")


def application_notice(
    *, application_id: int, expected_version: int | None, starts_on: dt.date, ends_on: dt.date,
    context: ChangeContext,
) -> PilotApplication:
    """The province puts a selected application on public notice (公示) from one date to another."""
    with transaction.atomic():
        application = lock_version(PilotApplication, application_id, expected_version)
        _require_state(application, App.REVIEWED, _("put on public notice"))
        starts_on = _effective(application.steps, starts_on, "starts_on")
        if ends_on < starts_on:
            raise ValidationError({"ends_on": _("The notice cannot end before it starts.")})
        return _application_advance(application, "notice", App.ON_NOTICE, starts_on, context, "",
                                    notice_starts_on=starts_on, notice_ends_on=ends_on)


def application_designate(
    *, application_id: int, expected_version: int | None, designated_on: dt.date, context: ChangeContext,
    objections: str = "", comment: str = "",
) -> PilotApplication:
    """After the notice, the province designates the county: the pilot is created, or updated, with its batch."""
    with transaction.atomic():
        application = lock_version(PilotApplication, application_id, expected_version,
                                   queryset=PilotApplication.objects.select_related("round__programme", "prefecture"))
        _require_state(application, App.ON_NOTICE, _("designated"))
        designated_on = _effective(application.steps, designated_on, "designated_on")
        if designated_on < application.notice_ends_on:
            raise ValidationError({"designated_on": _("The public notice runs until %(end)s; designate after it.")
                                   % {"end": application.notice_ends_on}})
        round_ = application.round
        fields = {
            "name_zh": application.name_zh, "name_en": application.name_en or application.name_zh,
            "batch_year": round_.year, "state": Pilot.State.DESIGNATED, "designated_on": designated_on,
            "construction_start": application.construction_start, "construction_end": application.construction_end,
            "is_demo": application.is_demo,
            "source_note": (comment or f"{round_.title} · 认定 {designated_on}")[:300],
        }
        existing = Pilot.objects.select_for_update().filter(programme=round_.programme,
                                                            code=application.county_code).first()
        if existing is None:
            pilot = pilot_create(programme=round_.programme, prefecture=application.prefecture,
                                 fields={"code": application.county_code, **fields}, context=context)
        elif existing.state in (Pilot.State.FAILED_ACCEPTANCE, Pilot.State.REVOKED):
            pilot = _pilot_update(existing, fields, effective_on=designated_on, note=fields["source_note"],
                                  context=context)
        else:
            raise ValidationError({"county_code": _("County %(code)s is already a pilot of this programme (%(state)s).")
                                   % {"code": existing.code, "state": existing.get_state_display()}})
        return _application_advance(application, "designate", App.DESIGNATED, designated_on, context,
                                    comment or objections, pilot=pilot, objections=objections or "")


def application_decline(
    *, application_id: int, expected_version: int | None, reason: str, context: ChangeContext,
    objections: str = "", effective_on: dt.date | None = None,
) -> PilotApplication:
    """The province ends an application before designation (e.g. an objection upheld during the notice)."""
    with transaction.atomic():
        application = lock_version(PilotApplication, application_id, expected_version)
        _require_state(application, (App.APPLIED, App.RECOMMENDED, App.REVIEWED, App.ON_NOTICE), _("declined"))
        if not (reason or "").strip():
            raise ValidationError({"reason": _("Say why the application is declined.")})
        effective_on = _effective(application.steps, effective_on, "effective_on")
        changes = {"objections": objections} if objections else {}
        return _application_advance(application, "decline", App.DECLINED, effective_on, context, reason, **changes)


# --- Acceptance ---------------------------------------------------------------------------------

def acceptance_apply(*, pilot: Pilot, self_assessment: str, context: ChangeContext,
                     is_demo: bool | None = None) -> Acceptance:
    """After construction ends, the prefecture applies for the pilot's acceptance with its self-assessment.

    ``is_demo``: demo data generators flag what they invent; by default an acceptance is as real as its pilot.
    """
    today = timezone.localdate()
    with transaction.atomic():
        pilot = Pilot.objects.select_for_update().get(pk=pilot.pk)
        errors: dict[str, str] = {}
        if pilot.state not in ACCEPTANCE_OPEN_TO:
            errors["pilot"] = _("A %(state)s pilot does not apply for acceptance.") % {
                "state": pilot.get_state_display()}
        elif today < pilot.construction_end:
            errors["pilot"] = _("Construction ends on %(end)s; apply for acceptance after that.") % {
                "end": pilot.construction_end}
        elif Acceptance.objects.filter(pilot=pilot, state__in=(Acc.APPLIED, Acc.RECTIFYING, Acc.RESUBMITTED,
                                                                Acc.PASSED)).exists():
            errors["pilot"] = _("This pilot's acceptance is already under way.")
        if not (self_assessment or "").strip():
            errors["self_assessment"] = _("The self-assessment is required.")
        if errors:
            raise ValidationError(errors)
        acceptance = Acceptance(pilot=pilot, self_assessment=self_assessment, filed_by=_user(context),
                                is_demo=pilot.is_demo if is_demo is None else is_demo)
        acceptance.full_clean(validate_unique=False, validate_constraints=False)
        acceptance.save(force_insert=True)
        audit_record(context=context, action="create", instance=acceptance, before=None, after=snapshot(acceptance))
        _acceptance_step(acceptance, "apply", "", Acc.APPLIED, today, context, "")
    return acceptance


def acceptance_review(
    *, acceptance_id: int, expected_version: int | None, experts: list[str], scores: dict[str, Any],
    conclusion: str, findings: str, context: ChangeContext, rectify_by: dt.date | None = None,
    reviewed_on: dt.date | None = None,
) -> Acceptance:
    """The province records a review: passed, rectify by a date (整改) or failed; the pilot's state follows."""
    with transaction.atomic():
        acceptance = lock_version(Acceptance, acceptance_id, expected_version,
                                  queryset=Acceptance.objects.select_related("pilot"))
        _require_state(acceptance, (Acc.APPLIED, Acc.RESUBMITTED), _("reviewed"))
        reviewed_on = _effective(acceptance.steps, reviewed_on, "reviewed_on")
        pilot = acceptance.pilot
        errors: dict[str, Any] = {}
        experts = [name.strip() for name in experts or [] if str(name).strip()]
        if not experts:
            errors["experts"] = _("Name at least one expert.")
        if conclusion != Acceptance.Conclusion.PASSED and not (findings or "").strip():
            errors["findings"] = _("A conclusion other than passed needs the experts' findings.")
        if conclusion == Acceptance.Conclusion.RECTIFY:
            if acceptance.state == Acc.RESUBMITTED:
                errors["conclusion"] = _("A rectification is re-reviewed once: passed or failed.")
            elif rectify_by is None:
                errors["rectify_by"] = _("Set the date by which the pilot must rectify.")
            elif rectify_by <= reviewed_on:
                errors["rectify_by"] = _("The rectification date lies after the review.")
        elif rectify_by is not None:
            errors["rectify_by"] = _("Only a rectify conclusion has a rectification date.")
        round_ = ApplicationRound.objects.filter(programme_id=pilot.programme_id, year=pilot.batch_year).first()
        criteria = round_.criteria_for("acceptance") if round_ else ApplicationRound().criteria_for("acceptance")
        try:
            cleaned, total = scores_check(criteria=criteria, scores=scores)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)
        review = AcceptanceReview(
            acceptance=acceptance, sequence=acceptance.reviews.count() + 1, reviewed_on=reviewed_on, experts=experts,
            scores=cleaned, total_score=total, findings=findings or "", conclusion=conclusion, rectify_by=rectify_by,
            recorded_by=_user(context), recorded_at=timezone.now(),
        )
        create_audited(instance=review, context=context)
        to_state = {Acceptance.Conclusion.PASSED: Acc.PASSED, Acceptance.Conclusion.FAILED: Acc.FAILED,
                    Acceptance.Conclusion.RECTIFY: Acc.RECTIFYING}[conclusion]
        if to_state == Acc.PASSED:
            _pilot_move(pilot, Pilot.State.ACCEPTED, reviewed_on, "验收通过", context)  # data, in Chinese
        elif to_state == Acc.FAILED:
            _pilot_move(pilot, Pilot.State.FAILED_ACCEPTANCE, reviewed_on, "验收未通过", context)
        return _acceptance_advance(acceptance, "review", to_state, reviewed_on, context, findings,
                                   rectify_by=rectify_by)


def acceptance_rectification_submit(
    *, acceptance_id: int, expected_version: int | None, report: str, context: ChangeContext,
) -> Acceptance:
    """The prefecture reports the rectification done; the province re-reviews it."""
    with transaction.atomic():
        acceptance = lock_version(Acceptance, acceptance_id, expected_version)
        _require_state(acceptance, Acc.RECTIFYING, _("resubmitted"))
        if not (report or "").strip():
            raise ValidationError({"report": _("Say what was rectified.")})
        return _acceptance_advance(acceptance, "rectify", Acc.RESUBMITTED, timezone.localdate(), context, report,
                                   rectification_report=report)


def acceptance_revoke(
    *, acceptance_id: int, expected_version: int | None, reason: str, context: ChangeContext,
    effective_on: dt.date | None = None,
) -> Acceptance:
    """After a failed acceptance the province revokes the designation; the pilot becomes revoked."""
    with transaction.atomic():
        acceptance = lock_version(Acceptance, acceptance_id, expected_version,
                                  queryset=Acceptance.objects.select_related("pilot"))
        _require_state(acceptance, Acc.FAILED, _("revoked"))
        if not (reason or "").strip():
            raise ValidationError({"reason": _("Say why the designation is revoked.")})
        effective_on = _effective(acceptance.steps, effective_on, "effective_on")
        _pilot_move(acceptance.pilot, Pilot.State.REVOKED, effective_on, reason, context)
        return _acceptance_advance(acceptance, "revoke", Acc.REVOKED, effective_on, context, reason)


# --- Documents ----------------------------------------------------------------------------------

# Which documents each record takes, and in which states its office may still add them.
_DOCUMENT_KINDS = {
    "application": {LifecycleDocument.Kind.APPLICATION_FORM, LifecycleDocument.Kind.PLAN,
                    LifecycleDocument.Kind.OTHER},
    "acceptance": {LifecycleDocument.Kind.SELF_ASSESSMENT, LifecycleDocument.Kind.EVIDENCE,
                   LifecycleDocument.Kind.RECTIFICATION, LifecycleDocument.Kind.OTHER},
}


def lifecycle_document_attach(
    *, kind: str, upload, context: ChangeContext, application_id: int | None = None,
    acceptance_id: int | None = None,
) -> LifecycleDocument:
    """Store a document of an application (while applied) or an acceptance (while applied or rectifying),
    checked by content as report evidence is (``evidence_check``)."""
    owner = "application" if application_id is not None else "acceptance"
    if kind not in _DOCUMENT_KINDS[owner]:
        message = _("An application takes: %(kinds)s.") if owner == "application" else \
            _("An acceptance takes: %(kinds)s.")
        raise ValidationError({"kind": message % {"kinds": ", ".join(sorted(_DOCUMENT_KINDS[owner]))}})
    name, extension, content_type = evidence_check(upload)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    with transaction.atomic():
        if owner == "application":
            record = lock_version(PilotApplication, application_id, None)
            _require_state(record, App.APPLIED, _("given documents"))
        else:
            record = lock_version(Acceptance, acceptance_id, None)
            _require_state(record, (Acc.APPLIED, Acc.RECTIFYING), _("given documents"))
        document = LifecycleDocument(
            application_id=application_id, acceptance_id=acceptance_id, kind=kind, original_name=name,
            extension=extension, content_type=content_type, size=upload.size, sha256=digest.hexdigest(),
            uploaded_by=_user(context),
        )
        document.file.save(f"{document.sha256}{extension}", upload, save=False)
        document.save()
        audit_record(context=context, action="attach", instance=document, before=None, after=snapshot(document))
        bump_version(record)  # the record changed: a client holding the old ETag re-reads it
    return document


# --- internals ----------------------------------------------------------------------------------

def _user(context: ChangeContext):
    return context.user if getattr(context.user, "is_authenticated", False) else None


def _require_state(record, states, verb: str) -> None:
    states = (states,) if isinstance(states, str) else states
    if record.state not in states:
        raise InvalidTransition(_("This %(record)s is %(state)s and cannot be %(verb)s now.") % {
            "record": record._meta.verbose_name, "state": record.get_state_display(), "verb": verb})


def _effective(steps, day: dt.date | None, field: str) -> dt.date:
    """The date a step took effect: today unless given; never in the future, never before the previous step."""
    today = timezone.localdate()
    day = day or today
    if day > today:
        raise ValidationError({field: _("%(day)s lies in the future; record a step once it has happened.")
                               % {"day": day}})
    last = steps.order_by("-effective_on").values_list("effective_on", flat=True).first()
    if last is not None and day < last:
        raise ValidationError({field: _("The previous step took effect on %(last)s; this one cannot be earlier.")
                               % {"last": last}})
    return day


def _application_step(application, action, from_state, to_state, effective_on, context, comment):
    return ApplicationStep.objects.create(
        application=application, action=action, from_state=from_state, to_state=to_state, effective_on=effective_on,
        actor=_user(context), recorded_at=timezone.now(), comment=comment or "",
    )


def _application_advance(application, action, to_state, effective_on, context, comment, **changes):
    before = snapshot(application)
    from_state = application.state
    bump_version(application, state=to_state, updated_at=timezone.now(), **changes)
    _application_step(application, action, from_state, to_state, effective_on, context, comment)
    audit_record(context=context, action=action, instance=application, before=before, after=snapshot(application))
    return application


def _acceptance_step(acceptance, action, from_state, to_state, effective_on, context, comment):
    return AcceptanceStep.objects.create(
        acceptance=acceptance, action=action, from_state=from_state, to_state=to_state, effective_on=effective_on,
        actor=_user(context), recorded_at=timezone.now(), comment=comment or "",
    )


def _acceptance_advance(acceptance, action, to_state, effective_on, context, comment, **changes):
    before = snapshot(acceptance)
    from_state = acceptance.state
    bump_version(acceptance, state=to_state, updated_at=timezone.now(), **changes)
    _acceptance_step(acceptance, action, from_state, to_state, effective_on, context, comment)
    audit_record(context=context, action=action, instance=acceptance, before=before, after=snapshot(acceptance))
    return acceptance


def _pilot_update(pilot: Pilot, fields: dict[str, Any], *, effective_on: dt.date, note: str,
                  context: ChangeContext) -> Pilot:
    before = snapshot(pilot)
    for name, value in fields.items():
        setattr(pilot, name, value)
    pilot.full_clean(validate_unique=False)
    pilot.save(update_fields=list(fields))
    audit_record(context=context, action="update", instance=pilot, before=before, after=snapshot(pilot))
    _state_change(pilot, pilot.state, effective_on, note, context)
    return pilot


def _pilot_move(pilot: Pilot, state: str, effective_on: dt.date, note: str, context: ChangeContext) -> None:
    """The pilot's state follows its acceptance, with an entry in its history (``PilotStateChange``)."""
    _pilot_update(pilot, {"state": state}, effective_on=effective_on, note=note, context=context)


def _state_change(pilot: Pilot, state: str, effective_on: dt.date, note: str, context: ChangeContext) -> None:
    change, created = PilotStateChange.objects.get_or_create(
        pilot=pilot, state=state, effective_on=effective_on, defaults={"note": (note or "")[:300]})
    if created:
        audit_record(context=context, action="create", instance=change, before=None, after=snapshot(change))
