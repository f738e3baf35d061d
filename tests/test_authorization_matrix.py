"""Every API endpoint × method × role, generated from the URL configuration.

The expectation for each endpoint is declared in ``MATRIX`` below, independently of the views'
own ``access_rules``; an endpoint the table does not list fails the test, so a new endpoint cannot
be added without deciding who may call it. Objects belong to 成都市 (510100); the reporter of
泸州市 (510500) must find them absent (404), whatever its role would allow.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from pilots.models import (
    Acceptance,
    ApplicationRound,
    LifecycleDocument,
    Milestone,
    PilotApplication,
    PlanChangeProposal,
    PlanItem,
    ProgressReport,
    ReportAttachment,
)
from pilots.services.completion import completion_recompute_all
from smartcity.models import ApiToken, AuditEntry, LoginLockout, SignInEvent
from tasks_app.models import EvaluationTree, Indicator, IndicatorTarget
from tests.factories import (
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    SubTaskDepartmentFactory,
    SubTaskFactory,
    UserFactory,
    member,
)
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "no_membership", "own_reporter", "other_reporter", "read_only_reporter", "viewer",
         "department", "integrator", "read_only_integrator", "reviewer", "admin"]
READ_ONLY_TOKENS = {"read_only_reporter", "read_only_integrator"}  # the role may write; the token may not
MEMBERS = set(ROLES) - {"anonymous", "no_membership"}
SIGNED_IN = set(ROLES) - {"anonymous"}
WRITERS = {"own_reporter", "other_reporter", "admin"}  # the role may write; scope may still hide the object
REVIEWERS = {"reviewer", "admin"}
PROVINCE = {"reviewer", "admin"}
PUBLIC = set(ROLES)
INTEGRATORS = {"integrator", "read_only_integrator", "admin"}  # their own webhook subscriptions
OFFICES = {"own_reporter", "other_reporter", "read_only_reporter"}  # prefecture offices only, in their own scope

# route name → {method: roles allowed past the access check}; scoped routes hide 成都's objects from 泸州.
MATRIX: dict[str, dict[str, set[str]]] = {
    "token-obtain": {"post": PUBLIC},
    "token-list": {"get": SIGNED_IN},
    "token-detail": {"get": SIGNED_IN, "delete": SIGNED_IN},
    "audit-entry-list": {"get": PROVINCE},
    "audit-entry-detail": {"get": PROVINCE},
    **{f"{name}-{kind}": {"get": MEMBERS} for name in ("programme", "task", "subtask", "department", "prefecture")
       for kind in ("list", "detail")},
    "pilot-list": {"get": MEMBERS},
    "pilot-detail": {"get": MEMBERS},
    "pilot-completion": {"get": MEMBERS},
    "report-list": {"get": MEMBERS, "post": WRITERS},
    "report-detail": {"get": MEMBERS, "patch": WRITERS},
    "report-submit": {"post": WRITERS},
    "report-correct": {"post": WRITERS},
    "report-approve": {"post": REVIEWERS},
    "report-return-": {"post": REVIEWERS},
    "report-revisions": {"get": MEMBERS},
    "report-attachments": {"get": MEMBERS, "post": WRITERS},
    "report-attachment": {"get": MEMBERS},
    "report-batch": {"post": WRITERS},
    "report-import": {"post": WRITERS},
    "report-template": {"get": MEMBERS},
    "report-export-xlsx": {"get": MEMBERS},
    "report-export-csv": {"get": MEMBERS},
    "plan-list": {"get": MEMBERS, "post": WRITERS | REVIEWERS},
    "plan-detail": {"get": MEMBERS, "patch": WRITERS | REVIEWERS, "delete": WRITERS | REVIEWERS},
    "plan-accept": {"post": REVIEWERS},
    "plan-proposal-list": {"get": MEMBERS},
    "plan-proposal-detail": {"get": MEMBERS},
    "plan-proposal-approve": {"post": REVIEWERS},
    "plan-proposal-reject": {"post": REVIEWERS},
    "milestone-list": {"get": MEMBERS, "post": WRITERS | REVIEWERS},
    "milestone-detail": {"get": MEMBERS, "patch": WRITERS | REVIEWERS, "delete": WRITERS | REVIEWERS},
    "completion-province": {"get": MEMBERS},
    "completion-prefecture-list": {"get": MEMBERS},
    "completion-task-list": {"get": MEMBERS},
    "completion-department-list": {"get": MEMBERS},
    "completion-history-list": {"get": MEMBERS},
    "completion-reporting-rate-list": {"get": MEMBERS},
    "completion-behind-list": {"get": MEMBERS},
    "notification-list": {"get": SIGNED_IN},
    "notification-detail": {"get": SIGNED_IN},
    "notification-unread-count": {"get": SIGNED_IN},
    "notification-read": {"post": SIGNED_IN},
    "notification-read-all": {"post": SIGNED_IN},
    "reminder-list": {"get": MEMBERS},
    "reminder-detail": {"get": MEMBERS},
    "overdue": {"get": MEMBERS},
    "webhook-list": {"get": INTEGRATORS, "post": INTEGRATORS},
    "webhook-detail": {"get": INTEGRATORS, "patch": INTEGRATORS, "delete": INTEGRATORS},
    "webhook-deliveries": {"get": INTEGRATORS},
    "calendar-day-list": {"get": SIGNED_IN, "post": PROVINCE},
    "calendar-day-detail": {"get": SIGNED_IN, "patch": PROVINCE, "delete": PROVINCE},
    "calendar-import": {"post": PROVINCE},
    "period-list": {"get": MEMBERS},
    # The life cycle: a prefecture office applies, recommends and applies for acceptance; the province decides.
    "round-list": {"get": MEMBERS, "post": PROVINCE},
    "round-detail": {"get": MEMBERS},
    "application-list": {"get": MEMBERS, "post": OFFICES},
    "application-detail": {"get": MEMBERS},
    "application-documents": {"get": MEMBERS, "post": OFFICES},
    "application-document": {"get": MEMBERS},
    "application-recommend": {"post": OFFICES},
    "application-review": {"post": PROVINCE},
    "application-notice": {"post": PROVINCE},
    "application-designate": {"post": PROVINCE},
    "application-decline": {"post": PROVINCE},
    "acceptance-list": {"get": MEMBERS, "post": OFFICES},
    "acceptance-detail": {"get": MEMBERS},
    "acceptance-documents": {"get": MEMBERS, "post": OFFICES},
    "acceptance-document": {"get": MEMBERS},
    "acceptance-review": {"post": PROVINCE},
    "acceptance-rectification": {"post": OFFICES},
    "acceptance-revoke": {"post": PROVINCE},
    # Bulletins: every member reads (scope decides which: a prefecture those sent to it); the province's
    # administrators ask for one.
    "bulletin-list": {"get": MEMBERS, "post": {"admin"}},
    "bulletin-detail": {"get": MEMBERS},
    "bulletin-docx": {"get": MEMBERS},
    "bulletin-pdf": {"get": MEMBERS},
    "bulletin-template": {"get": MEMBERS},
    "indicator-list": {"get": MEMBERS, "post": PROVINCE},
    "indicator-detail": {"get": MEMBERS, "patch": PROVINCE},
    "indicator-target-list": {"get": MEMBERS, "post": PROVINCE},
    "indicator-target-detail": {"get": MEMBERS, "patch": PROVINCE, "delete": PROVINCE},
    "evaluation-tree-list": {"get": MEMBERS, "post": PROVINCE},
    "evaluation-tree-detail": {"get": MEMBERS, "patch": PROVINCE},
    "sign-in-list": {"get": PROVINCE},  # and an office's administrator (no such role in this matrix)
    "sign-in-detail": {"get": PROVINCE},
    "lockout-list": {"get": PROVINCE},
    "lockout-detail": {"get": PROVINCE},
    "lockout-lift": {"post": {"admin"}},
    "account-list": {"get": {"admin"}, "post": {"admin"}},
    "account-detail": {"get": {"admin"}, "patch": {"admin"}},
    "account-deactivate": {"post": {"admin"}},
    "account-reactivate": {"post": {"admin"}},
}
# Routes whose {pk} is an object of 成都市's: the other prefecture must get 404 even where its role may act.
SCOPED_OBJECTS = {"pilot", "report", "plan", "milestone", "application", "acceptance"}
# Writes a read-only token may still make: obtaining a token needs none, and revoking one's own token
# only ever reduces access.
READ_ONLY_TOKEN_MAY = {"token-obtain", "token-detail", "notification-read", "notification-read-all"}
READ_METHODS = {"get", "head", "options"}


def api_routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern

    for route, pattern in walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/"):
            continue
        callback = pattern.callback
        if getattr(callback, "actions", None):
            methods = sorted(callback.actions)
        else:
            view = callback.view_class
            methods = sorted(m for m in ("get", "post", "patch", "put", "delete") if hasattr(view, m))
        yield route, pattern.name, methods


ROUTES = list(api_routes())


def test_every_api_endpoint_is_in_the_matrix():
    missing = sorted({name for _route, name, _methods in ROUTES} - set(MATRIX))
    assert missing == [], f"decide who may call these and add them to MATRIX: {missing}"
    for _route, name, methods in ROUTES:
        assert set(methods) == set(MATRIX[name]), f"{name}: methods {methods} vs matrix {sorted(MATRIX[name])}"


@pytest.fixture
def world():
    with time_machine.travel(dt.datetime(2021, 10, 15, 10, tzinfo=dt.timezone.utc), tick=False):
        subtask = SubTaskFactory()
        chengdu = PrefectureFactory(code="510100")
        luzhou = PrefectureFactory(code="510500")
        pilot = PilotFactory(programme=subtask.task.programme, prefecture=chengdu, code="510108")
        plan = PlanItem.objects.create(pilot=pilot, subtask=subtask, description="计划")
        milestone = Milestone.objects.create(plan_item=plan, title="节点", due_on=dt.date(2022, 6, 30),
                                             target_percent=50)
        proposal = PlanChangeProposal.objects.create(plan_item=plan, milestone=milestone, kind="milestone_update",
                                                     changes={"target_percent": "40.0"})
        report = ProgressReport.objects.create(pilot=pilot, subtask=subtask, period="2021Q3",
                                               period_start=dt.date(2021, 7, 1), percent_complete=40,
                                               status="on_track")
        attachment = ReportAttachment.objects.create(report=report, file="evidence/x.pdf", original_name="x.pdf",
                                                     extension=".pdf", content_type="application/pdf", size=1,
                                                     sha256="0" * 64)
        round_ = ApplicationRound.objects.create(
            programme=subtask.task.programme, year=2021, title="2021", guide_title="指南",
            opens_on=dt.date(2021, 10, 1), closes_on=dt.date(2021, 10, 31))
        application = PilotApplication.objects.create(
            round=round_, prefecture=chengdu, county_code="510112", name_zh="龙泉驿区", plan_summary="方案",
            construction_start=dt.date(2022, 1, 1), construction_end=dt.date(2023, 12, 31))
        acceptance = Acceptance.objects.create(pilot=pilot, self_assessment="自评")
        application_document = LifecycleDocument.objects.create(
            application=application, kind="plan", file="evidence/x.pdf", original_name="x.pdf", extension=".pdf",
            content_type="application/pdf", size=1, sha256="0" * 64)
        acceptance_document = LifecycleDocument.objects.create(
            acceptance=acceptance, kind="evidence", file="evidence/x.pdf", original_name="x.pdf", extension=".pdf",
            content_type="application/pdf", size=1, sha256="0" * 64)
        assignment = SubTaskDepartmentFactory(subtask=subtask)
        chengdu_office = OrganisationFactory(kind="prefecture", prefecture=chengdu)
        province = OrganisationFactory()
        users = {
            "no_membership": UserFactory(),
            "own_reporter": member("reporter", chengdu_office),
            "other_reporter": member("reporter", OrganisationFactory(kind="prefecture", prefecture=luzhou)),
            "read_only_reporter": member("reporter", chengdu_office),
            "viewer": member("viewer", province),
            "department": member("viewer", OrganisationFactory(kind="department",
                                                                department=assignment.department)),
            "integrator": member("integrator"),
            "read_only_integrator": member("integrator"),
            "reviewer": member("reviewer", province),
            "admin": member("admin", province),
        }
        clients = {"anonymous": APIClient()}
        for role, user in users.items():
            clients[role] = client_for(user, can_write=role not in READ_ONLY_TOKENS)
        audit_id = AuditEntry.objects.create(
            via="command", action="create", object_type="x", object_id="1", object_repr="x").pk
        indicator = Indicator.objects.create(programme=subtask.task.programme, subtask=subtask, code="I1",
                                             name_zh="指标", name_en="Indicator", kind="rate", unit_zh="%",
                                             unit_en="%", rollup="mean")
        target = IndicatorTarget.objects.create(indicator=indicator, level="province", due_on=dt.date(2022, 12, 31),
                                                value=80)
        tree = EvaluationTree.objects.create(programme=subtask.task.programme, code="tree", name_zh="评价",
                                             name_en="Evaluation")
        sign_in_id = SignInEvent.objects.create(event="token", via="api", result="failure",
                                                reason="unknown_user", username="x").pk
        lockout_id = LoginLockout.objects.create(username="x", address="10.0.0.1",
                                                 expires_at=dt.datetime(2021, 10, 15, 11, tzinfo=dt.timezone.utc)).pk
        completion_recompute_all(as_of=dt.date(2021, 10, 15))
    return {
        "clients": clients, "users": users,
        "ids": {"pilot": pilot.pk, "report": report.pk, "plan": plan.pk, "milestone": milestone.pk,
                "plan-proposal": proposal.pk, "attachment": attachment.pk, "programme": subtask.task.programme.pk,
                "task": subtask.task.pk,
                "subtask": subtask.pk, "department": assignment.department.pk, "prefecture": chengdu.pk,
                "audit-entry": audit_id, "round": round_.pk, "application": application.pk,
                "acceptance": acceptance.pk, "application-document": application_document.pk,
                "acceptance-document": acceptance_document.pk, "indicator": indicator.pk,
                "indicator-target": target.pk, "evaluation-tree": tree.pk, "sign-in": sign_in_id,
                "lockout": lockout_id, "account": users["own_reporter"].pk},
    }


def concrete_path(route: str, name: str, role: str, world) -> str:
    basename = re.sub(r"-(list|detail|completion|submit|correct|approve|return-|reject|accept|revisions|attachments|"
                      r"attachment|documents|document|recommend|review|notice|designate|decline|rectification|"
                      r"revoke|lift|deactivate|reactivate)$",
                      "", name)
    ids = world["ids"]
    if basename == "token":
        user = world["users"].get(role)
        token = ApiToken.objects.filter(user=user).first() if user else None
        object_id = token.pk if token else 1
    else:
        object_id = ids.get(basename, 1)
    path = "/" + route.lstrip("^").rstrip("$")
    path = re.sub(r"\(\?P<pk>[^)]+\)|<int:pk>", str(object_id), path)
    path = re.sub(r"\(\?P<attachment_id>[^)]+\)", str(ids["attachment"]), path)
    path = re.sub(r"\(\?P<document_id>[^)]+\)", str(ids.get(f"{basename}-document", 1)), path)
    return path.replace("^", "").replace("$", "")


CASES = [(route, name, method, role) for route, name, methods in ROUTES for method in methods for role in ROLES
         if name in MATRIX]


@pytest.mark.parametrize("route, name, method, role", CASES, ids=[f"{n}:{m}:{r}" for _, n, m, r in CASES])
def test_access(world, settings, tmp_path, route, name, method, role):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "x.pdf").write_bytes(b"%")
    allowed = MATRIX[name][method]
    if role in READ_ONLY_TOKENS and method not in READ_METHODS and name not in READ_ONLY_TOKEN_MAY:
        allowed = allowed - {role}
    path = concrete_path(route, name, role, world)
    client = world["clients"][role]

    with time_machine.travel(dt.datetime(2021, 10, 15, 10, tzinfo=dt.timezone.utc), tick=False):
        response = getattr(client, method)(path, {}, format="json") if method != "get" else client.get(path)

    status = response.status_code
    assert status < 500, f"{method.upper()} {path} as {role}: {status}"
    scoped_detail = "{" in route or "(?P<pk>" in route or "<int:pk>" in route
    basename = name.split("-")[0]
    if role == "anonymous" and allowed is not PUBLIC:
        assert status == 401, f"{method.upper()} {path} as {role}: {status}"
    elif role not in allowed:
        assert status == 403, f"{method.upper()} {path} as {role}: {status} (expected 403)"
    elif role == "other_reporter" and scoped_detail and basename in SCOPED_OBJECTS:
        assert status == 404, f"{method.upper()} {path} as {role}: {status} (expected 404: another prefecture's)"
    else:
        assert status not in (401, 403), f"{method.upper()} {path} as {role}: {status} (expected allowed)"
        if scoped_detail and basename in SCOPED_OBJECTS and method in READ_METHODS:
            assert status == 200, f"{method.upper()} {path} as {role}: {status}"
