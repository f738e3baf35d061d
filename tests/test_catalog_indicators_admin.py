"""The provincial office edits indicators and evaluation trees in the admin: the API's rules, audited, versioned."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from smartcity.audit import ChangeContext
from smartcity.models import AuditEntry
from tasks_app.models import EvaluationNode, EvaluationTree, Indicator
from tasks_app.services import catalog_load_departments, catalog_load_programme
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def office_admin(client):
    context = ChangeContext.command()
    catalog_load_departments(data=json.loads((FIXTURES / "departments.json").read_text()), context=context)
    catalog_load_programme(data=json.loads((FIXTURES / "programmes/sc-2024-660.json").read_text()), context=context)
    client.force_login(UserFactory(username="office-admin", is_staff=True, is_superuser=True))
    return client


def indicator_form(indicator: Indicator, **changes) -> dict:
    data = {
        "programme": indicator.programme_id, "code": indicator.code, "name_zh": indicator.name_zh,
        "name_en": indicator.name_en, "kind": indicator.kind, "unit_zh": indicator.unit_zh,
        "unit_en": indicator.unit_en,
        "direction": indicator.direction, "rollup": indicator.rollup, "rollup_weight": "",
        "task": indicator.task_id or "", "subtask": indicator.subtask_id or "",
        "baseline_value": indicator.baseline_value if indicator.baseline_value is not None else "",
        "baseline_on": indicator.baseline_on or "", "order": indicator.order, "basis": indicator.basis,
        "source": indicator.source,
    }
    targets = list(indicator.targets.order_by("id"))
    data |= {"targets-TOTAL_FORMS": len(targets), "targets-INITIAL_FORMS": len(targets),
             "targets-MIN_NUM_FORMS": 0, "targets-MAX_NUM_FORMS": 1000}
    for index, target in enumerate(targets):
        data |= {f"targets-{index}-id": target.pk, f"targets-{index}-indicator": indicator.pk,
                 f"targets-{index}-level": target.level, f"targets-{index}-scope_code": target.scope_code,
                 f"targets-{index}-due_on": target.due_on, f"targets-{index}-value": target.value,
                 f"targets-{index}-basis": target.basis, f"targets-{index}-source": target.source}
    return data | changes


def test_a_rate_over_100_is_refused_in_the_admin_as_in_the_api(office_admin):
    users = Indicator.objects.get(code="Q3.8-5G-USERS")
    url = reverse("admin:tasks_app_indicator_change", args=[users.pk])

    refused = office_admin.post(url, indicator_form(users, baseline_value="120"))

    assert refused.status_code == 200
    assert "baseline_value" in refused.context["adminform"].form.errors
    users.refresh_from_db()
    assert users.baseline_value == 11 and users.version == 1

    accepted = office_admin.post(url, indicator_form(users, baseline_value="12"))
    assert accepted.status_code == 302
    users.refresh_from_db()
    assert (users.baseline_value, users.version) == (12, 2)  # an API client holding "….1" is now told (412)
    entry = AuditEntry.objects.get(object_type="tasks_app.indicator", object_id=str(users.pk), action="update")
    assert entry.via == AuditEntry.Via.ADMIN


def tree_form(tree: EvaluationTree, **weights: str) -> dict:
    nodes = list(tree.nodes.order_by("id"))
    data = {"programme": tree.programme_id, "code": tree.code, "name_zh": tree.name_zh, "name_en": tree.name_en,
            "edition": tree.edition, "order": tree.order, "basis": tree.basis, "source": tree.source,
            "nodes-TOTAL_FORMS": len(nodes), "nodes-INITIAL_FORMS": len(nodes), "nodes-MIN_NUM_FORMS": 0,
            "nodes-MAX_NUM_FORMS": 1000}
    for index, node in enumerate(nodes):
        prefix = f"nodes-{index}-"
        data |= {f"{prefix}id": node.pk, f"{prefix}tree": tree.pk, f"{prefix}code": node.code,
                 f"{prefix}parent": node.parent_id or "", f"{prefix}level": node.level,
                 f"{prefix}name_zh": node.name_zh,
                 f"{prefix}name_en": node.name_en, f"{prefix}weight": weights.get(node.code, node.weight),
                 f"{prefix}indicator": node.indicator_id or "", f"{prefix}rule": node.rule,
                 f"{prefix}rule_params": json.dumps(node.rule_params), f"{prefix}order": node.order,
                 f"{prefix}basis": node.basis, f"{prefix}source": node.source}
    return data


def test_a_weight_change_that_breaks_the_sums_is_refused_and_one_that_keeps_them_is_saved(office_admin):
    tree = EvaluationTree.objects.get(code="gbt33356-2016")
    url = reverse("admin:tasks_app_evaluationtree_change", args=[tree.pk])

    refused = office_admin.post(url, tree_form(tree, L2P1="5"))  # L2 weighs 9, its children would weigh 9.5
    assert refused.status_code == 200
    errors = [str(e) for inline in refused.context["inline_admin_formsets"] for e in inline.formset.non_form_errors()]
    assert any(e.startswith("L2:") for e in errors), errors
    assert EvaluationNode.objects.get(tree=tree, code="L2P1").weight == 4.5

    accepted = office_admin.post(url, tree_form(tree, L2P1="5", L2P2="4"))
    assert accepted.status_code == 302
    assert EvaluationNode.objects.get(tree=tree, code="L2P1").weight == 5
    node = EvaluationNode.objects.get(tree=tree, code="L2P1")
    entry = AuditEntry.objects.get(object_type="tasks_app.evaluationnode", object_id=str(node.pk), action="update")
    weights = (Decimal(entry.before["weight"]), Decimal(entry.after["weight"]))
    assert (entry.via, weights) == (AuditEntry.Via.ADMIN, (Decimal("4.5"), Decimal("5")))
