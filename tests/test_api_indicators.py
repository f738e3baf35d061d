"""The 2024 programme's indicators, dated targets and evaluation trees: read by everyone, kept by the province.

Every bad write is a 400 naming the field and writes nothing: a rate over 100, a target date before the baseline,
a tree whose weights do not sum, a cycle in a tree.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from smartcity.audit import ChangeContext
from smartcity.models import AuditEntry
from tasks_app.models import EvaluationNode, EvaluationTree, Indicator, IndicatorTarget
from tasks_app.services import catalog_load_departments, catalog_load_programme
from tests.factories import OrganisationFactory, PrefectureFactory, member
from tests.helpers import client_for, error_fields

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
INDICATORS, TARGETS, TREES = "/api/v1/indicators/", "/api/v1/indicator-targets/", "/api/v1/evaluation-trees/"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def catalog():
    """Both shipped programmes, as bootstrap loads them."""
    context = ChangeContext.command()
    catalog_load_departments(data=load("departments.json"), context=context)
    for name in ("sc-2020-3.json", "sc-2024-660.json"):
        catalog_load_programme(data=load(f"programmes/{name}"), context=context)


@pytest.fixture
def people():
    province = OrganisationFactory(code="province")
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    return {
        "reviewer": client_for(member("reviewer", province), can_write=True),
        "reviewer_read_only": client_for(member("reviewer", province)),
        "viewer": client_for(member("viewer", province)),
        "reporter": client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu)),
                               can_write=True),
        "anonymous": client_for(None),
    }


def rate_indicator(**overrides) -> dict:
    return {"programme": "sc-2024-660", "code": "Q2.5-ONLINE", "name_zh": "政务服务事项网上可办率",
            "name_en": "Share of government services available online", "kind": "rate", "rollup": "mean",
            "subtask": "Q2.5", "baseline_value": "82.5", "baseline_on": "2024-12-31"} | overrides


def test_everyone_reads_the_2024_indicators_in_the_programmes_order_with_facts_told_from_defaults(catalog, people):
    body = people["viewer"].get(INDICATORS, {"programme": "sc-2024-660"}).json()

    assert [row["code"] for row in body["results"]] == [
        "Q3.8-5G", "Q3.8-5G-USERS", "Q2.5-ONE-THING", "Q2.4-ONE-EVENT", "Q2.1-HUB", "Q2-INVEST"]
    base_stations = body["results"][0]
    assert (base_stations["kind"], base_stations["unit_zh"], base_stations["rollup"]) == ("count", "个", "sum")
    assert (base_stations["baseline_value"], base_stations["baseline_on"]) == ("36000.0000", "2020-12-31")
    assert base_stations["basis"] == "fact" and "sc.people.com.cn" in base_stations["source"]
    assert [(t["level"], t["due_on"], t["value"]) for t in base_stations["targets"]] == [
        ("province", "2025-12-31", "250000.0000")]
    assert (base_stations["task"], base_stations["subtask"]) == ("Q3", "Q3.8")
    assert {row["code"]: row["basis"] for row in body["results"]}["Q2-INVEST"] == "default"
    # The 2020 programme is unchanged: it has no indicators, and its tasks list holds only its own.
    assert people["viewer"].get(INDICATORS, {"programme": "sc-2020-3"}).json()["count"] == 0
    assert people["viewer"].get(INDICATORS, {"task": "Q3"}).json()["count"] == 2
    assert people["anonymous"].get(INDICATORS).status_code == 401


def test_the_2016_evaluation_tree_carries_the_published_weights_and_marks_what_it_could_not_source(catalog, people):
    trees = people["viewer"].get(TREES, {"programme": "sc-2024-660"}).json()["results"]

    assert [tree["code"] for tree in trees] == ["gbt33356-2016", "gbt33356-2022", "sc-2024-660-scoring"]
    nodes = {node["code"]: node for node in trees[0]["nodes"]}
    firsts = [(n["name_zh"], n["weight"]) for n in trees[0]["nodes"] if n["level"] == "first"]
    assert firsts == [("惠民服务", "37.00"), ("精准治理", "9.00"), ("生态宜居", "8.00"), ("智能设施", "7.00"),
                      ("信息资源", "7.00"), ("网络安全", "8.00"), ("改革创新", "4.00"), ("市民体验", "20.00")]
    assert sum(Decimal(w) for _name, w in firsts) == 100
    assert sum(Decimal(n["weight"]) for n in nodes.values() if n["parent"] == "L1") == Decimal("37")
    assert nodes["L1P1"]["basis"] == "fact" and nodes["L1P9"]["basis"] == "default"
    assert trees[1]["nodes"] == [] and "62" in trees[1]["source"]  # 2022: structure known, nodes not sourced
    items = [n for n in trees[2]["nodes"] if n["level"] == "item"]
    assert {n["indicator"] for n in items} >= {"Q3.8-5G", "Q2.1-HUB"}
    assert {n["basis"] for n in trees[2]["nodes"]} == {"default"}


def test_the_provincial_office_adds_an_indicator_and_changes_it_with_if_match_audited(catalog, people):
    created = people["reviewer"].post(INDICATORS, rate_indicator(), format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["unit_zh"], body["unit_en"], body["task"], body["basis"]) == ("%", "%", "Q2", "default")
    assert created["Location"].endswith(f"/indicators/{body['id']}/")
    stale = created["ETag"]

    changed = people["reviewer"].patch(f"{INDICATORS}{body['id']}/", {"baseline_value": "84"}, format="json",
                                       HTTP_IF_MATCH=stale)
    assert changed.status_code == 200 and changed.json()["baseline_value"] == "84.0000"
    again = people["reviewer"].patch(f"{INDICATORS}{body['id']}/", {"baseline_value": "85"}, format="json",
                                     HTTP_IF_MATCH=stale)
    assert again.status_code == 412
    assert people["reviewer"].patch(f"{INDICATORS}{body['id']}/", {"order": 9}, format="json").status_code == 428
    actions = list(AuditEntry.objects.filter(object_type="tasks_app.indicator", object_id=str(body["id"]))
                   .order_by("id").values_list("action", "via"))
    assert actions == [("create", AuditEntry.Via.API_TOKEN), ("update", AuditEntry.Via.API_TOKEN)]


@pytest.mark.parametrize("who", ["reporter", "viewer", "reviewer_read_only"])
def test_nobody_but_the_provincial_office_with_a_write_token_changes_the_catalog(catalog, people, who):
    assert people[who].post(INDICATORS, rate_indicator(), format="json").status_code == 403
    assert people[who].post(TREES, {"programme": "sc-2024-660", "code": "x", "name_zh": "x", "name_en": "x"},
                            format="json").status_code == 403
    assert not Indicator.objects.filter(code="Q2.5-ONLINE").exists()


@pytest.mark.parametrize(("overrides", "field", "code"), [
    ({"baseline_value": "120"}, "baseline_value", "rate_range"),
    ({"kind": "count"}, "unit_zh", "required"),
    ({"kind": "amount", "unit_zh": "元"}, "unit_zh", "unit_kind"),
    ({"baseline_on": None}, "baseline_on", "baseline_whole"),
    ({"subtask": "T4.1"}, "subtask", "unknown_object"),  # a sub-task of the 2020 programme
    ({"task": "Q2"}, "subtask", "evidences_one"),
    ({"rollup": "weighted_mean"}, "rollup_weight", "required"),
    ({"code": "Q3.8-5G"}, "code", "unique"),
    ({"kind": "yes_no", "baseline_value": "2"}, "baseline_value", "yes_no"),
])
def test_an_indicator_that_breaks_a_rule_is_a_400_naming_the_field_and_nothing_is_written(
    catalog, people, overrides, field, code
):
    before = (Indicator.objects.count(), AuditEntry.objects.count())

    response = people["reviewer"].post(INDICATORS, rate_indicator(**overrides), format="json")

    assert response.status_code == 400, response.json()
    assert field in error_fields(response)
    assert code in {e["code"] for e in response.json()["errors"] if e["field"] == field}
    assert (Indicator.objects.count(), AuditEntry.objects.count()) == before


def test_targets_follow_the_baseline_fit_the_kind_and_name_a_scope_that_exists(catalog, people):
    users = Indicator.objects.get(code="Q3.8-5G-USERS")  # a rate, baseline 2020-12-31
    PrefectureFactory(code="510100")
    office = people["reviewer"]

    def target(**overrides):
        return office.post(TARGETS, {"indicator": users.pk, "level": "prefecture", "scope_code": "510100",
                                     "due_on": "2027-12-31", "value": "75"} | overrides, format="json")

    before = IndicatorTarget.objects.count()
    for overrides, field in [({"due_on": "2019-12-31"}, "due_on"), ({"value": "101"}, "value"),
                             ({"scope_code": "519900"}, "scope_code"), ({"level": "province"}, "scope_code"),
                             ({"indicator": 999999}, "indicator"), ({"due_on": "2025-12-31", "level": "province",
                                                                     "scope_code": ""}, "due_on")]:
        response = target(**overrides)
        assert response.status_code == 400, (overrides, response.json())
        assert field in error_fields(response), overrides
    assert IndicatorTarget.objects.count() == before

    created = target()
    assert created.status_code == 201, created.json()
    assert (created.json()["indicator"], created.json()["scope_code"]) == ("Q3.8-5G-USERS", "510100")
    url = f"{TARGETS}{created.json()['id']}/"
    moved = office.patch(url, {"value": "80"}, format="json", HTTP_IF_MATCH=created["ETag"])
    assert moved.status_code == 200 and moved.json()["value"] == "80.0000"
    # A baseline moved past a target is refused on the indicator, too.
    refused = office.patch(f"{INDICATORS}{users.pk}/", {"baseline_on": "2028-01-01"}, format="json",
                           HTTP_IF_MATCH=users.etag)
    assert refused.status_code == 400 and "baseline_on" in error_fields(refused)
    assert office.delete(url, HTTP_IF_MATCH=moved["ETag"]).status_code == 204
    assert AuditEntry.objects.filter(object_type="tasks_app.indicatortarget", object_id=str(created.json()["id"]),
                                     action="delete").count() == 1
    assert people["viewer"].get(TARGETS, {"programme": "sc-2024-660", "level": "province"}).json()["count"] == 4


def scoring_tree(**changes) -> dict:
    nodes = [
        {"code": "A", "level": "first", "name_zh": "基础设施", "name_en": "Infrastructure", "weight": "60"},
        {"code": "B", "level": "first", "name_zh": "服务", "name_en": "Services", "weight": "40"},
        {"code": "A1", "parent": "A", "level": "second", "name_zh": "网络", "name_en": "Networks", "weight": "60"},
        {"code": "B1", "parent": "B", "level": "second", "name_zh": "办事", "name_en": "Services", "weight": "40"},
        {"code": "A1-5G", "parent": "A1", "level": "item", "name_zh": "5G基站", "name_en": "5G", "weight": "35.50",
         "indicator": "Q3.8-5G", "rule": "linear"},
        {"code": "A1-USERS", "parent": "A1", "level": "item", "name_zh": "5G普及率", "name_en": "5G users",
         "weight": "24.50", "indicator": "Q3.8-5G-USERS", "rule": "thresholds",
         "rule_params": {"thresholds": [[30, 0.5], [60, 1]]}},
        {"code": "B1-HUB", "parent": "B1", "level": "item", "name_zh": "中枢", "name_en": "Hub", "weight": "40",
         "indicator": "Q2.1-HUB", "rule": "yes_no"},
    ]
    for code, change in changes.items():
        node = next(n for n in nodes if n["code"] == code)
        node.update(change)
    return {"programme": "sc-2024-660", "code": "scoring-2026", "name_zh": "2026年评分", "name_en": "Scoring 2026",
            "nodes": nodes}


def test_the_office_adds_a_whole_tree_whose_weights_sum_and_replaces_its_nodes_later(catalog, people):
    created = people["reviewer"].post(TREES, scoring_tree(), format="json")

    assert created.status_code == 201, created.json()
    nodes = {n["code"]: n for n in created.json()["nodes"]}
    assert (nodes["A1-5G"]["weight"], nodes["A1-5G"]["parent"], nodes["A1-5G"]["indicator"]) == (
        "35.50", "A1", "Q3.8-5G")
    tree = EvaluationTree.objects.get(code="scoring-2026")

    replaced = people["reviewer"].patch(f"{TREES}{tree.pk}/", {"nodes": scoring_tree(
        **{"A": {"weight": "100"}, "A1": {"weight": "100"}, "A1-5G": {"weight": "60"}, "A1-USERS": {"weight": "40"}}
    )["nodes"][:1] + scoring_tree()["nodes"][2:3] + [
        {"code": "A1-5G", "parent": "A1", "level": "item", "name_zh": "5G基站", "name_en": "5G", "weight": "100",
         "indicator": "Q3.8-5G", "rule": "linear"}]}, format="json", HTTP_IF_MATCH=created["ETag"])
    assert replaced.status_code == 400  # A and A1 still weigh 60: the sums are checked on change too
    assert set(error_fields(replaced)) >= {"nodes[0].weight"} or "nodes" in error_fields(replaced)

    one_branch = [{"code": "A", "level": "first", "name_zh": "基础设施", "name_en": "Infrastructure", "weight": "100"},
                  {"code": "A1", "parent": "A", "level": "second", "name_zh": "网络", "name_en": "Networks",
                   "weight": "100"},
                  {"code": "A1-5G", "parent": "A1", "level": "item", "name_zh": "5G基站", "name_en": "5G",
                   "weight": "100", "indicator": "Q3.8-5G", "rule": "linear"}]
    replaced = people["reviewer"].patch(f"{TREES}{tree.pk}/", {"nodes": one_branch}, format="json",
                                        HTTP_IF_MATCH=created["ETag"])
    assert replaced.status_code == 200, replaced.json()
    assert [n["code"] for n in replaced.json()["nodes"]] == ["A", "A1", "A1-5G"]
    assert AuditEntry.objects.filter(object_type="tasks_app.evaluationnode", action="delete").count() == 7


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"A1-5G": {"weight": "30"}}, "nodes[2].weight", "weights_sum"),  # A1 weighs 60, its items 54.50
    ({"A": {"weight": "50"}, "A1": {"weight": "50"}, "A1-5G": {"weight": "25.50"}}, "nodes", "weights_total"),
    ({"A1-5G": {"weight": "35.505"}}, "nodes[4].weight", "max_decimal_places"),
    ({"A": {"parent": "A1-5G"}}, "nodes[0].parent", "cycle"),
    ({"A1": {"parent": "B1-HUB"}}, "nodes[2].parent", "parent_level"),
    ({"B1-HUB": {"parent": "Z"}}, "nodes[6].parent", "unknown_parent"),
    ({"B1-HUB": {"rule": "linear", "indicator": None}}, "nodes[6].indicator", "required"),
    ({"A1-5G": {"rule": "yes_no"}}, "nodes[4].rule", "rule_kind"),
    ({"A1-USERS": {"rule_params": {"thresholds": [[60, 1], [30, 0.5]]}}}, "nodes[5].rule_params", "invalid_thresholds"),
    ({"A1": {"indicator": "Q3.8-5G", "rule": "linear"}}, "nodes[2].indicator", "not_item"),
])
def test_a_tree_that_breaks_a_rule_is_a_400_naming_the_node_and_nothing_is_written(
    catalog, people, changes, field, code
):
    before = (EvaluationTree.objects.count(), EvaluationNode.objects.count(), AuditEntry.objects.count())

    response = people["reviewer"].post(TREES, scoring_tree(**changes), format="json")

    assert response.status_code == 400, response.json()
    assert code in {e["code"] for e in response.json()["errors"] if e["field"] == field}, response.json()
    assert (EvaluationTree.objects.count(), EvaluationNode.objects.count(), AuditEntry.objects.count()) == before


def test_lists_have_a_constant_number_of_queries(catalog, people, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        assert people["viewer"].get(INDICATORS, {"page_size": 100}).status_code == 200
    with django_assert_max_num_queries(12):
        assert people["viewer"].get(TREES).status_code == 200
    with django_assert_max_num_queries(12):
        assert people["viewer"].get(TARGETS).status_code == 200


def test_a_node_code_outside_the_pattern_is_named_on_its_node_and_a_huge_indicator_id_is_a_400(catalog, people):
    response = people["reviewer"].post(TREES, scoring_tree(**{"B1-HUB": {"code": "中枢 1"}}), format="json")
    assert response.status_code == 400 and "nodes[6].code" in error_fields(response)
    huge = people["reviewer"].post(TARGETS, {"indicator": 2**70, "level": "province", "due_on": "2027-12-31",
                                             "value": "1"}, format="json")
    assert huge.status_code == 400 and error_fields(huge) == {"indicator"}
