"""Contract fuzzing: Schemathesis against the running service, every operation, as each role.

The real service (gunicorn, ``smartcity.wsgi``, with DEBUG off as deployed) runs as a subprocess on
the test database; the spec is the one it serves at ``/api/schema/``. For each role (anonymous, a
prefecture reporter, reviewer, viewer, department, integrator, admin; each with write tokens) the
fuzzer generates valid and invalid requests for every operation in the spec, plus the spec's own
examples, and checks that no response is a 5xx and that each one's status code, content type and
body are what the spec says. Nothing is excluded: the fuzzer may revoke its own tokens (each role
has several, and a revoked one is replaced), approve reports, delete plans; the subprocess's rate
limits are raised so that it cannot lock itself out.

So that operations reach real objects rather than only 404s, path ids and the ``pilot``,
``subtask``, ``plan_item`` of request bodies are mostly drawn from the seeded objects (ours and
another prefecture's), and ``If-Match`` is mostly the object's current ETag.

Schemathesis' own pytest loader for a fixture-provided schema (``schemathesis.pytest.from_fixture``)
fails on pytest 9.2 (it sets ``Function._nodeid``), so the cases come from each operation's
Hypothesis strategy (``operation.as_strategy``) and are checked with ``case.call_and_validate``.
Generation is derandomized: every run sends the same cases, so CI fails on a change, not on luck.

Budget: about 3 minutes on 2 cores for this file. ``FUZZ_MAX_EXAMPLES`` (per operation and role)
trades time for depth; each run prints its figures and writes the statuses per operation to
``var/pytest/contract-fuzzing.txt``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis
import pytest
import requests
import schemathesis
import time_machine
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pilots.models import Milestone, Notification, Organisation, PlanItem, ProgressReport, Reminder, ReportAttachment
from pilots.periods import Period
from pilots.services.completion import completion_recompute_all
from pilots.services.reminders import reminder_rules_ensure, reminders_sweep
from pilots.services.reports import report_approve, report_create
from pilots.services.webhooks import webhook_subscription_create
from smartcity.audit import ChangeContext
from smartcity.auth.services import token_issue
from smartcity.models import ApiToken, AuditEntry
from tests import faults
from tests.conftest import _run_dir, _test_database_url
from tests.factories import (
    OrganisationFactory,
    PilotFactory,
    PrefectureFactory,
    SubTaskDepartmentFactory,
    SubTaskFactory,
    TaskFactory,
    member,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))  # per operation and role
ROLES = ["anonymous", "reporter", "reviewer", "viewer", "department", "integrator", "admin"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SERVER_READY_TIMEOUT = 60
TOKENS_PER_ROLE = 3
CURRENT_ETAG = "__current_etag__"  # replaced by the object's ETag just before the request

# Examples the fuzzer draws per operation; anonymous callers get 401 whatever they send, so fewer.
EXAMPLES = {role: MAX_EXAMPLES for role in ROLES} | {"anonymous": max(1, MAX_EXAMPLES // 3)}

# Figures of this run, printed at the end of the module.
STATS: dict[str, Counter] = {}  # role → responses by status class
OPERATIONS: dict[str, Counter] = {}  # operation → responses by status code, all roles


# --- The service --------------------------------------------------------------------------------


@dataclass
class LiveService:
    url: str
    log_path: Path
    media_root: Path

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def tracebacks(self) -> str:
        """The tracebacks the service logged (a 5xx logs one), for the failure message."""
        text = self.log_path.read_text(errors="replace")
        return "\n\n".join(block for block in re.split(r"\n(?=\d{4}-\d\d-\d\d )", text) if "Traceback" in block)


@pytest.fixture(scope="module")
def live_service(django_db_setup, tmp_path_factory, request):
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("fuzz-service")
    env = {
        # As deployed: with DEBUG on, Django would answer an unmatched URL with its HTML debug page.
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "API_RATE_PER_TOKEN": "1000000/min",
        "API_RATE_PER_IP": "1000000/min",
    }
    # No broker of the tests': the recomputes its writes enqueue never reach a worker another test started.
    with faults.gunicorn(database_url=_test_database_url(), broker_url=None, workdir=workdir, env=env) as server:
        service = LiveService(url=server.url, log_path=server.log_path, media_root=workdir / "var" / "media")
        deadline = time.monotonic() + SERVER_READY_TIMEOUT
        while True:  # listening is not answering: the worker may still be loading Django
            try:
                if requests.get(f"{service.url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the service did not answer within {SERVER_READY_TIMEOUT}s:\n{service.log_tail()}",
                            pytrace=False)
            time.sleep(0.2)
        try:
            yield service
        finally:
            _report_figures(request, time.monotonic() - started)


def _report_figures(request, seconds: float) -> None:
    """Print how much was fuzzed (also with -q), and keep the statuses per operation in var/pytest/."""
    if not STATS:
        return
    total = sum(sum(counter.values()) for counter in STATS.values())
    lines = [f"contract fuzzing: {len(OPERATIONS)} operations, {total} cases in {seconds:.0f}s "
             f"(max_examples {MAX_EXAMPLES} per operation and role, {EXAMPLES['anonymous']} anonymous)"]
    for role, counter in STATS.items():
        by_class = ", ".join(f"{code}: {count}" for code, count in sorted(counter.items()))
        lines.append(f"  {role:<11} {sum(counter.values()):>5} cases  ({by_class})")
    details = [f"  {label}: " + ", ".join(f"{code}×{n}" for code, n in sorted(counter.items()))
               for label, counter in sorted(OPERATIONS.items())]
    figures = _run_dir().parent / "contract-fuzzing.txt"
    figures.write_text("\n".join([*lines, "statuses by operation, all roles:", *details]) + "\n")
    lines.append(f"  statuses by operation: {figures}")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)


# --- The world each role fuzzes ---------------------------------------------------------------


@dataclass
class FuzzWorld:
    role: str
    user: object | None
    tokens: list[ApiToken] = field(default_factory=list)
    keys: dict[int, str] = field(default_factory=dict)
    ids: dict[str, list[int]] = field(default_factory=dict)
    attachment_pairs: list[tuple[int, int]] = field(default_factory=list)
    body_ids: dict[str, list[int]] = field(default_factory=dict)
    calls: int = 0

    def issue_token(self) -> None:
        token, key = token_issue(user=self.user, name=f"fuzz {self.role}", can_write=True,
                                 context=ChangeContext.command())
        self.tokens.append(token)
        self.keys[token.pk] = key

    def headers(self) -> dict[str, str]:
        if self.user is None:
            return {}
        live = [token for token in self.tokens if token.pk in self.keys]
        token = live[self.calls % len(live)]
        return {"Authorization": f"Bearer {self.keys[token.pk]}"}

    def after(self, case, response) -> None:
        """Replace any of our tokens the fuzzer revoked, so that it keeps fuzzing as this role."""
        self.calls += 1
        if case.method.upper() == "DELETE" and case.path.startswith("/api/v1/auth/tokens/") \
                and response.status_code == 204:
            revoked = set(ApiToken.objects.filter(pk__in=list(self.keys), revoked_at__isnull=False)
                          .values_list("pk", flat=True))
            for pk in revoked:
                del self.keys[pk]
            for _ in revoked:
                self.issue_token()


def _seed(role: str, service: LiveService) -> FuzzWorld:
    """Two prefectures' pilots, plans, milestones and reports in each state, users of every role."""
    with time_machine.travel(dt.datetime(2021, 10, 15, 10, tzinfo=dt.timezone.utc), tick=False):
        task = TaskFactory(code="T1")
        subtasks = [SubTaskFactory(task=task, code=f"T1.{n}") for n in (1, 2, 3)]
        programme = task.programme
        chengdu, luzhou = PrefectureFactory(code="510100"), PrefectureFactory(code="510500")
        pilot = PilotFactory(programme=programme, prefecture=chengdu, code="510108")
        other_pilot = PilotFactory(programme=programme, prefecture=luzhou, code="510502")
        assignment = SubTaskDepartmentFactory(subtask=subtasks[0])
        chengdu_office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=chengdu)
        luzhou_office = OrganisationFactory(kind=Organisation.Kind.PREFECTURE, prefecture=luzhou)
        province = OrganisationFactory(code="province")
        users = {
            "reporter": member("reporter", chengdu_office),
            "other_reporter": member("reporter", luzhou_office),
            "reviewer": member("reviewer", province),
            "viewer": member("viewer", province),
            "department": member("viewer", OrganisationFactory(kind=Organisation.Kind.DEPARTMENT,
                                                               department=assignment.department)),
            "integrator": member("integrator"),
            "admin": member("admin", province),
        }
        reporter = ChangeContext(user=users["reporter"], via=AuditEntry.Via.COMMAND)
        reviewer = ChangeContext(user=users["reviewer"], via=AuditEntry.Via.COMMAND)
        content = {"percent_complete": "40.0", "status": "on_track"}
        draft = report_create(pilot=pilot, subtask=subtasks[0], period=Period(2021, 3), content=content,
                              context=reporter)
        submitted = report_create(pilot=pilot, subtask=subtasks[1], period=Period(2021, 3), content=content,
                                  context=reporter, submit=True)
        approved = report_create(pilot=pilot, subtask=subtasks[2], period=Period(2021, 2), content=content,
                                 context=reporter, submit=True)
        approved = report_approve(report_id=approved.pk, expected_version=None, context=reviewer)
        other = report_create(pilot=other_pilot, subtask=subtasks[0], period=Period(2021, 3), content=content,
                              context=ChangeContext(user=users["other_reporter"], via=AuditEntry.Via.COMMAND),
                              submit=True)
        plans = [PlanItem.objects.create(pilot=p, subtask=subtasks[0], description="计划")
                 for p in (pilot, other_pilot)]
        milestones = [Milestone.objects.create(plan_item=plan, title="节点", due_on=dt.date(2021, 9, 30),
                                               target_percent=50) for plan in plans]
        pdf = b"%PDF-1.4\n%%EOF\n"
        (service.media_root / "evidence").mkdir(parents=True, exist_ok=True)
        (service.media_root / "evidence" / "x.pdf").write_bytes(pdf)
        attachment = ReportAttachment.objects.create(
            report=draft, file="evidence/x.pdf", original_name="x.pdf", extension=".pdf",
            content_type="application/pdf", size=len(pdf), sha256=hashlib.sha256(pdf).hexdigest())
        reminder_rules_ensure()
        completion_recompute_all(as_of=dt.date(2021, 10, 15))
    reminders_sweep(now=dt.datetime(2021, 10, 20, 10, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    for user in users.values():
        Notification.objects.create(user=user, title="提醒", body="…", link="http://127.0.0.1/")
    hooks = [webhook_subscription_create(owner=users[name], url="https://114.114.114.114/hook",  # public, no DNS
                                         events=["report.submitted"], context=ChangeContext.command())[0]
             for name in ("integrator", "admin")]

    world = FuzzWorld(role=role, user=users.get(role))
    if world.user is not None:
        for _ in range(TOKENS_PER_ROLE):
            world.issue_token()
    other_token, _key = token_issue(user=users["other_reporter"], can_write=False, context=ChangeContext.command())
    reports = [draft, submitted, approved, other]
    world.ids = {
        "audit": list(AuditEntry.objects.order_by("pk").values_list("pk", flat=True)[:3]),
        "auth/tokens": [token.pk for token in world.tokens] + [other_token.pk],
        "departments": [assignment.department.pk],
        "milestones": [m.pk for m in milestones],
        "notifications": list(Notification.objects.values_list("pk", flat=True)[:3]),
        "pilots": [pilot.pk, other_pilot.pk],
        "plans": [p.pk for p in plans],
        "prefectures": [chengdu.pk, luzhou.pk],
        "programmes": [programme.pk],
        "reminders": list(Reminder.objects.values_list("pk", flat=True)[:2]),
        "reports": [r.pk for r in reports],
        "subtasks": [s.pk for s in subtasks],
        "tasks": [task.pk],
        "webhooks": [h.pk for h in hooks],
    }
    world.attachment_pairs = [(draft.pk, attachment.pk), (other.pk, attachment.pk)]
    world.body_ids = {"pilot": world.ids["pilots"], "subtask": world.ids["subtasks"],
                      "plan_item": world.ids["plans"]}
    return world


VERSIONED = {"reports": ProgressReport, "plans": PlanItem, "milestones": Milestone}
_WORLD: dict[str, FuzzWorld] = {}  # "current": the world of the role being fuzzed, for the hooks


def _resource(path: str) -> str:
    rest = path.removeprefix("/api/v1/")
    return "auth/tokens" if rest.startswith("auth/tokens/") else rest.split("/", 1)[0]


@pytest.fixture(scope="module")
def api_schema(live_service):
    """The spec the service serves, loaded once; its hooks read the world of the role being fuzzed."""
    served = requests.get(f"{live_service.url}/api/schema/?format=json", timeout=30)
    served.raise_for_status()
    loaded = schemathesis.openapi.from_dict(served.json())
    loaded.location = f"{live_service.url}/api/schema/"

    @loaded.hook
    def flatmap_path_parameters(context, path_parameters):
        """Mostly the ids of real objects (ours and another prefecture's) rather than random ones."""
        world = _WORLD["current"]
        if not path_parameters or "id" not in path_parameters:
            return st.just(path_parameters)
        if "attachment_id" in path_parameters:
            real = [{"id": report, "attachment_id": attachment} for report, attachment in world.attachment_pairs]
        else:
            real = [{**path_parameters, "id": pk} for pk in world.ids.get(_resource(context.operation.path), [])]
        if not real:
            return st.just(path_parameters)
        return st.one_of(st.sampled_from(real), st.sampled_from(real), st.sampled_from(real), st.just(path_parameters))

    @loaded.hook
    def flatmap_headers(context, headers):
        """``If-Match`` is sometimes the object's current ETag, so that writes get past the precondition."""
        if headers and "If-Match" in headers:
            return st.sampled_from([{**headers, "If-Match": CURRENT_ETAG}] * 3 + [headers])
        return st.just(headers)

    @loaded.hook
    def flatmap_body(context, body):
        """Request bodies mostly name a real pilot, sub-task or plan item."""
        return _with_real_ids(body)

    return loaded


def _with_real_ids(body):
    world = _WORLD["current"]
    keys = [key for key in world.body_ids if key in body] if isinstance(body, dict) else []
    if not keys:
        return st.just(body)
    real = st.fixed_dictionaries({key: st.sampled_from(world.body_ids[key]) for key in keys})
    return st.one_of(real.map(lambda values: {**body, **values}), st.just(body))


def _example_with_real_ids(case):
    """The spec's examples name ids of the demo data (pilot 1, sub-task 4); use the seeded ones instead."""
    def with_body(body):
        case.body = body
        return case

    return _with_real_ids(case.body).map(with_body)


def _current_etag(case) -> str:
    model = VERSIONED.get(_resource(case.path))
    pk = str(case.path_parameters.get("id"))
    row = model.objects.filter(pk=int(pk)).values("version").first() if model and pk.isdigit() else None
    return f'"{pk}.{row["version"]}"' if row else '"0.0"'


def _strategy(operation):
    """Valid and invalid requests for ``operation``, and the spec's own examples."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    try:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # noqa: BLE001 - nothing in this operation can be made invalid
        pass
    strategies.extend(example.flatmap(_example_with_real_ids) for example in operation.get_strategies_from_examples())
    return st.one_of(strategies)


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_keeps_the_contract(role, live_service, api_schema):
    """No 5xx, and every status code, content type and body as documented; all failures reported at once."""
    world = _WORLD["current"] = _seed(role, live_service)
    counter = STATS.setdefault(role, Counter())
    failures = []
    for result in api_schema.get_all_operations():
        if isinstance(result, Err):  # an operation Schemathesis cannot read: a broken spec
            failures.append(f"unreadable operation in the spec: {result.err()}")
            continue
        operation = result.ok()
        by_status = OPERATIONS.setdefault(operation.label, Counter())

        @hypothesis.settings(max_examples=EXAMPLES[role], deadline=None, database=None, derandomize=True,
                             phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=_strategy(operation))
        def fuzz(case):
            if case.headers and case.headers.get("If-Match") == CURRENT_ETAG:
                case.headers["If-Match"] = _current_etag(case)
            response = case.call_and_validate(headers=world.headers(), checks=CHECKS, timeout=30)
            world.after(case, response)
            counter[f"{response.status_code // 100}xx"] += 1
            by_status[response.status_code] += 1

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation's failures, then all of them
            failures.append(f"{operation.label} as {role}:\n{exc}")
    if failures:
        tracebacks = live_service.tracebacks()
        pytest.fail("\n\n".join(failures) + (f"\n\nservice tracebacks:\n{tracebacks}" if tracebacks else ""),
                    pytrace=False)


def test_the_served_spec_is_valid_openapi(live_service):
    """The spec the service serves, the one fuzzed, is valid OpenAPI.

    ``test_openapi.py`` validates the generated spec and fails on any drf-spectacular warning; this
    checks what integrators actually download.
    """
    from openapi_spec_validator import validate

    served = requests.get(f"{live_service.url}/api/schema/?format=json", timeout=30)
    assert served.status_code == 200
    validate(served.json())
