"""Writes on the catalog: loading departments and programmes from their fixture files.

Loading is idempotent and conservative: a row is looked up by its natural key and created only when
it is missing; an existing row is never overwritten, because the provincial office may have edited
it in the admin. Each created row is validated with ``full_clean()`` and audited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from smartcity.audit import ChangeContext, audit_record, create_audited, snapshot
from smartcity.concurrency import bump_version, lock_version
from tasks_app.models import (
    Basis,
    Department,
    EvaluationNode,
    EvaluationTree,
    Indicator,
    IndicatorTarget,
    Pillar,
    Programme,
    SubTask,
    SubTaskDepartment,
    Task,
)

PROGRAMME_FIELDS = (
    "document_number", "title_zh", "title_en", "issuer_zh", "issuer_en", "issued_on",
    "goal_pilot_count", "goal_deadline", "reporting_period", "report_due_days", "source_note",
)


class CatalogDataError(ValueError):
    """A fixture refers to something that does not exist (e.g. an unknown department code)."""


def catalog_load_departments(*, data: dict[str, Any], context: ChangeContext) -> dict[str, int]:
    """Create the departments of a ``fixtures/departments.json``-shaped dict that do not exist yet."""
    created = 0
    with transaction.atomic():
        for row in data["departments"]:
            if Department.objects.filter(code=row["code"]).exists():
                continue
            create_audited(
                instance=Department(code=row["code"], name_zh=row["name_zh"], name_en=row["name_en"]),
                context=context,
            )
            created += 1
    return {"departments": created}


def catalog_load_programme(*, data: dict[str, Any], context: ChangeContext) -> dict[str, int]:
    """Create what is missing of one programme file: the programme, pillars, tasks, sub-tasks, assignments.

    Natural keys: programme ``code``; pillar and task ``code`` within the programme; sub-task ``code``
    within its task. A sub-task's default assignment is applied as a whole and only while the sub-task
    has no departments at all: once the office has edited who is responsible, reloading never brings
    a removed department back nor adds a second lead.
    """
    counts = {"programmes": 0, "pillars": 0, "tasks": 0, "subtasks": 0, "assignments": 0}
    with transaction.atomic():
        programme_data = data["programme"]
        programme = Programme.objects.filter(code=programme_data["code"]).first()
        if programme is None:
            fields = {name: programme_data[name] for name in PROGRAMME_FIELDS if name in programme_data}
            programme = create_audited(instance=Programme(code=programme_data["code"], **fields), context=context)
            counts["programmes"] += 1

        pillars = {}
        for row in data["pillars"]:
            pillar = Pillar.objects.filter(programme=programme, code=row["code"]).first()
            if pillar is None:
                pillar = create_audited(
                    instance=Pillar(
                        programme=programme, code=row["code"], kind=row["kind"], order=row.get("order", 0),
                        name_zh=row["name_zh"], name_en=row["name_en"],
                    ),
                    context=context,
                )
                counts["pillars"] += 1
            pillars[pillar.code] = pillar

        subtasks = {}
        for task_row in data["tasks"]:
            task = Task.objects.filter(programme=programme, code=task_row["code"]).first()
            if task is None:
                pillar = pillars.get(task_row["pillar"])
                if pillar is None:
                    raise CatalogDataError(f"Task {task_row['code']}: unknown pillar {task_row['pillar']!r}.")
                task = create_audited(
                    instance=Task(
                        programme=programme, pillar=pillar, code=task_row["code"], order=task_row.get("order", 0),
                        name_zh=task_row["name_zh"], name_en=task_row["name_en"],
                    ),
                    context=context,
                )
                counts["tasks"] += 1
            for row in task_row.get("subtasks", []):
                subtask = SubTask.objects.filter(task=task, code=row["code"]).first()
                if subtask is None:
                    subtask = create_audited(
                        instance=SubTask(
                            task=task, code=row["code"], weight=row.get("weight", "1"), order=row.get("order", 0),
                            name_zh=row["name_zh"], name_en=row["name_en"],
                        ),
                        context=context,
                    )
                    counts["subtasks"] += 1
                subtasks[subtask.code] = subtask

        assignments = data.get("default_assignments")
        if assignments:
            counts["assignments"] = _assign_default_departments(
                subtasks=subtasks, assignments=assignments, context=context
            )
        if "indicators" in data or "evaluation_trees" in data:
            counts |= _load_indicators(programme=programme, data=data, context=context)
    return counts


def _assign_default_departments(
    *, subtasks: dict[str, SubTask], assignments: dict[str, Any], context: ChangeContext
) -> int:
    basis = assignments.get("basis", SubTaskDepartment.Basis.DEFAULT)
    created = 0
    for row in assignments["assignments"]:
        subtask = subtasks.get(row["subtask"])
        if subtask is None:
            raise CatalogDataError(f"Default assignment for unknown sub-task {row['subtask']!r}.")
        if subtask.assignments.exists():
            continue
        roles = [(row["lead"], SubTaskDepartment.Role.LEAD)]
        roles += [(code, SubTaskDepartment.Role.PARTICIPANT) for code in row.get("participants", [])]
        for department_code, role in roles:
            department = Department.objects.filter(code=department_code).first()
            if department is None:
                raise CatalogDataError(
                    f"Default assignment of {subtask.code}: unknown department {department_code!r} "
                    "(load fixtures/departments.json first)."
                )
            create_audited(
                instance=SubTaskDepartment(subtask=subtask, department=department, role=role, basis=basis),
                context=context,
            )
            created += 1
    return created


# --- Indicators, targets and evaluation trees ------------------------------------------------------
#
# Every write checks its rules here and raises one ``ValidationError`` whose keys name the fields
# (``nodes[3].weight`` for a node of a tree), so the API answers a 400 naming each field and writes nothing.
# The loader goes through the same checks as the API and the admin.

INDICATOR_FIELDS = (
    "code", "name_zh", "name_en", "kind", "unit_zh", "unit_en", "direction", "rollup", "rollup_weight", "task",
    "subtask", "baseline_value", "baseline_on", "order", "basis", "source",
)
TARGET_FIELDS = ("level", "scope_code", "due_on", "value", "basis", "source")
TREE_FIELDS = ("code", "name_zh", "name_en", "edition", "order", "basis", "source")
NODE_FIELDS = ("code", "parent", "level", "name_zh", "name_en", "weight", "indicator", "rule", "rule_params",
               "order", "basis", "source")
YES_NO_ROLLUPS = {Indicator.Rollup.SUM, Indicator.Rollup.MEAN, Indicator.Rollup.MAX, Indicator.Rollup.SHARE_MEETING}
CENT = Decimal("0.01")


class _Errors(dict):
    """Field → messages, raised at once as one ValidationError (the API's ``errors`` list)."""

    def add(self, field: str, message: str, code: str) -> None:
        self.setdefault(field, []).append(ValidationError(message, code=code))

    def add_error(self, field: str, error: ValidationError) -> None:
        self.setdefault(field, []).append(error)

    def raise_if_any(self) -> None:
        if self:
            raise ValidationError(dict(self))


def indicator_rules_check(indicator: Indicator) -> None:
    """The rules of one indicator row, as it would be saved: each field on its own first, then together."""
    indicator.full_clean(validate_unique=False, validate_constraints=False)
    errors = _Errors()
    kind = indicator.kind
    if bool(indicator.task_id) == bool(indicator.subtask_id):
        errors.add("subtask", _("An indicator evidences exactly one sub-task or one task: give one of the two."),
                   "evidences_one")
    elif indicator.evidenced_programme_id != indicator.programme_id:
        field = "subtask" if indicator.subtask_id else "task"
        errors.add(field, _("It belongs to another programme."), "other_programme")
    if kind in Indicator.KIND_UNITS:
        unit_zh, unit_en = Indicator.KIND_UNITS[kind]
        if indicator.unit_zh not in ("", unit_zh):
            errors.add("unit_zh", _("An indicator of this kind is measured in “%(unit)s”.") % {"unit": unit_zh or "—"},
                       "unit_kind")
        indicator.unit_zh = unit_zh
        indicator.unit_en = indicator.unit_en or unit_en
    elif kind == Indicator.Kind.COUNT and not indicator.unit_zh:
        errors.add("unit_zh", _("A count names its unit, e.g. 个 or 项."), "required")
    if kind == Indicator.Kind.YES_NO:
        if indicator.direction != Indicator.Direction.HIGHER:
            errors.add("direction", _("For a yes/no indicator, yes is better."), "yes_no_direction")
        if indicator.rollup not in YES_NO_ROLLUPS:
            errors.add("rollup", _("A yes/no indicator rolls up as a sum, mean, maximum or share meeting it."),
                       "yes_no_rollup")
    weight = indicator.rollup_weight
    if indicator.rollup == Indicator.Rollup.WEIGHTED_MEAN:
        if weight is None:
            errors.add("rollup_weight", _("A weighted mean names the indicator that weighs each pilot."), "required")
        elif weight.programme_id != indicator.programme_id or (indicator.pk and weight.pk == indicator.pk):
            errors.add("rollup_weight", _("The weight is another indicator of the same programme."), "invalid")
        elif weight.kind not in (Indicator.Kind.COUNT, Indicator.Kind.AMOUNT):
            errors.add("rollup_weight", _("The weight is a count or an amount."), "invalid")
    elif weight is not None:
        errors.add("rollup_weight", _("Only a weighted mean has a weight."), "not_weighted")
    if (indicator.baseline_value is None) != (indicator.baseline_on is None):
        field = "baseline_on" if indicator.baseline_on is None else "baseline_value"
        errors.add(field, _("A baseline is a value and its date: give both or neither."), "baseline_whole")
    if indicator.baseline_value is not None:
        error = indicator.value_error(indicator.baseline_value)
        if error:
            errors.add_error("baseline_value", error)
    if indicator.pk and indicator.baseline_on and not indicator._state.adding:
        first = indicator.targets.order_by("due_on").values_list("due_on", flat=True).first()
        if first is not None and first <= indicator.baseline_on:
            errors.add("baseline_on", _("The baseline date must come before every target date (the first is "
                                        "%(date)s).") % {"date": first.isoformat()}, "baseline_after_target")
    duplicate = Indicator.objects.filter(programme_id=indicator.programme_id, code=indicator.code)
    if indicator.pk:
        duplicate = duplicate.exclude(pk=indicator.pk)
    if indicator.code and duplicate.exists():
        errors.add("code", _("The programme already has an indicator with this code."), "unique")
    errors.raise_if_any()


def indicator_target_rules_check(target: IndicatorTarget) -> None:
    """The rules of one dated target: its value fits the indicator, its date follows the baseline, its scope exists."""
    target.full_clean(validate_unique=False, validate_constraints=False)
    errors = _Errors()
    indicator = target.indicator
    if target.value is not None:
        if indicator.rollup == Indicator.Rollup.SHARE_MEETING and target.level != IndicatorTarget.Level.PILOT:
            # Above a pilot, such an indicator is the share of pilots meeting it: a percentage.
            if not Decimal("0") <= Decimal(target.value) <= Decimal("100"):
                errors.add("value", _("Above a pilot, this indicator is the share of pilots meeting it: a percentage "
                                      "within 0–100."), "rate_range")
        else:
            error = indicator.value_error(target.value)
            if error:
                errors.add_error("value", error)
    if target.due_on and indicator.baseline_on and target.due_on <= indicator.baseline_on:
        errors.add("due_on", _("A target date must come after the indicator's baseline date (%(date)s).")
                   % {"date": indicator.baseline_on.isoformat()}, "before_baseline")
    if target.level == IndicatorTarget.Level.PROVINCE:
        if target.scope_code:
            errors.add("scope_code", _("A province-level target names no scope."), "scope_not_allowed")
    elif not target.scope_code:
        errors.add("scope_code", _("A prefecture or pilot target names its scope by code."), "required")
    elif not _scope_exists(target.level, target.scope_code, indicator.programme_id):
        errors.add("scope_code", _("No %(level)s has the code %(code)s in this programme.")
                   % {"level": target.get_level_display(), "code": target.scope_code}, "unknown_scope")
    duplicate = IndicatorTarget.objects.filter(indicator_id=indicator.pk, level=target.level,
                                               scope_code=target.scope_code, due_on=target.due_on)
    if target.pk:
        duplicate = duplicate.exclude(pk=target.pk)
    if target.due_on and indicator.pk and duplicate.exists():
        errors.add("due_on", _("This indicator already has a target for this scope on this date."), "unique")
    errors.raise_if_any()


def _scope_exists(level: str, code: str, programme_id: int) -> bool:
    # The registry is the pilots app's; named lazily so that the catalog does not import it.
    if level == IndicatorTarget.Level.PREFECTURE:
        return apps.get_model("pilots", "Prefecture").objects.filter(code=code).exists()
    return apps.get_model("pilots", "Pilot").objects.filter(code=code, programme_id=programme_id).exists()


def evaluation_nodes_check(*, tree: EvaluationTree, nodes: list[dict[str, Any]]) -> None:
    """The rules of a whole tree, as it would be stored (GB/T 33356): checked together, since a sum spans rows.

    ``nodes`` is a flat list; ``parent`` names a node by its code. Each node: first-level nodes have no parent,
    second-level nodes hang under a first-level one, items under a second-level one; no cycle; a weight has two
    decimals; a node with children weighs the sum of its children; the first level sums to 100. An item is scored
    from an indicator of the tree's programme by a rule; other nodes have neither.
    """
    errors = _Errors()
    by_code: dict[str, int] = {}
    for index, node in enumerate(nodes):
        code = node.get("code") or ""
        if code in by_code:
            errors.add(f"nodes[{index}].code", _("Another node of this tree has the code %(code)s.") % {"code": code},
                       "unique")
        by_code.setdefault(code, index)
    parents: dict[int, int | None] = {}
    for index, node in enumerate(nodes):
        parent_code = node.get("parent") or None
        if parent_code is None:
            parents[index] = None
        elif parent_code not in by_code:
            errors.add(f"nodes[{index}].parent", _("No node of this tree has the code %(code)s.")
                       % {"code": parent_code}, "unknown_parent")
            parents[index] = None
        else:
            parents[index] = by_code[parent_code]
    in_cycle = _nodes_in_cycles(parents)
    for index in sorted(in_cycle):
        errors.add(f"nodes[{index}].parent", _("The node is its own ancestor: the tree has a cycle."), "cycle")
    children: dict[int, list[int]] = {}
    for index, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(index)
    for index, node in enumerate(nodes):
        _node_check(tree=tree, node=node, index=index, parent=nodes[parents[index]] if parents[index] is not None
                    and index not in in_cycle else None, has_parent=parents[index] is not None, errors=errors)
    weights = {index: _as_weight(node.get("weight")) for index, node in enumerate(nodes)}
    for index, kids in children.items():
        if index in in_cycle or weights[index] is None or any(weights[k] is None for k in kids):
            continue
        total = sum((weights[k] for k in kids), Decimal("0"))
        if total != weights[index]:
            errors.add(f"nodes[{index}].weight", _("The weight %(weight)s of %(code)s is not the sum of its children's "
                       "weights (%(total)s).") % {"weight": weights[index], "code": nodes[index].get("code"),
                                                  "total": total}, "weights_sum")
    firsts = [index for index, node in enumerate(nodes) if node.get("level") == EvaluationNode.Level.FIRST]
    if nodes and all(weights[index] is not None for index in firsts):
        total = sum((weights[index] for index in firsts), Decimal("0"))
        if total != EvaluationTree.TOTAL:
            errors.add("nodes", _("The first-level weights sum to %(total)s, not 100.") % {"total": total},
                       "weights_total")
    errors.raise_if_any()


def _nodes_in_cycles(parents: dict[int, int | None]) -> set[int]:
    in_cycle: set[int] = set()
    for start in parents:
        seen: list[int] = []
        current: int | None = start
        while current is not None and current not in seen:
            seen.append(current)
            current = parents.get(current)
        if current is not None:  # came back to a node already on this path: that loop is a cycle
            in_cycle.update(seen[seen.index(current):])
    return in_cycle


def _as_weight(value) -> Decimal | None:
    try:
        weight = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None
    return weight if weight.is_finite() else None


def _node_check(*, tree, node: dict, index: int, parent: dict | None, has_parent: bool, errors: _Errors) -> None:
    prefix = f"nodes[{index}]."
    try:
        EvaluationNode._meta.get_field("code").run_validators(node.get("code") or "")
    except ValidationError as exc:
        for error in exc.error_list:
            errors.add_error(prefix + "code", error)
    level = node.get("level")
    if level not in EvaluationNode.Level.values:
        errors.add(prefix + "level", _("The level is first, second or item."), "invalid_choice")
        return
    expected_parent = EvaluationNode.PARENT_LEVEL[level]
    if expected_parent is None and has_parent:
        errors.add(prefix + "parent", _("A first-level indicator has no parent."), "parent_level")
    elif expected_parent is not None and not has_parent:
        errors.add(prefix + "parent", _("This node needs a parent of the level above it."), "required")
    elif parent is not None and parent.get("level") != expected_parent:
        errors.add(prefix + "parent", _("The parent must be a %(level)s.")
                   % {"level": EvaluationNode.Level(expected_parent).label}, "parent_level")
    weight = _as_weight(node.get("weight"))
    if weight is None:
        errors.add(prefix + "weight", _("A weight is a number."), "invalid")
    elif weight < 0 or weight > EvaluationTree.TOTAL:
        errors.add(prefix + "weight", _("A weight is within 0–100 points."), "weight_range")
    elif weight != weight.quantize(CENT):
        errors.add(prefix + "weight", _("A weight has at most two decimals."), "max_decimal_places")
    indicator, rule = node.get("indicator"), node.get("rule") or ""
    if level == EvaluationNode.Level.ITEM:
        if indicator is None:
            errors.add(prefix + "indicator", _("An item is scored from an indicator."), "required")
        elif indicator.programme_id != tree.programme_id:
            errors.add(prefix + "indicator", _("The indicator belongs to another programme."), "other_programme")
        if rule not in EvaluationNode.Rule.values:
            errors.add(prefix + "rule", _("An item's rule is linear, thresholds or yes_no."), "invalid_choice")
        elif rule == EvaluationNode.Rule.YES_NO and indicator is not None and indicator.kind != Indicator.Kind.YES_NO:
            errors.add(prefix + "rule", _("The yes/no rule scores a yes/no indicator."), "rule_kind")
        elif rule == EvaluationNode.Rule.THRESHOLDS:
            message = _thresholds_error(node.get("rule_params") or {})
            if message:
                errors.add(prefix + "rule_params", message, "invalid_thresholds")
    elif indicator is not None or rule:
        errors.add(prefix + ("indicator" if indicator is not None else "rule"),
                   _("Only an item indicator is scored by a rule."), "not_item")


def _thresholds_error(params: dict) -> str | None:
    rows = params.get("thresholds") if isinstance(params, dict) else None
    if not isinstance(rows, list) or not rows:
        return _('Thresholds are {"thresholds": [[value, share], …]}, at least one.')
    previous = None
    for row in rows:
        if not (isinstance(row, list) and len(row) == 2 and all(isinstance(v, (int, float, str)) for v in row)):
            return _("Each threshold is a pair [value, share].")
        value, share = _as_weight(row[0]), _as_weight(row[1])
        if value is None or share is None or not Decimal("0") <= share <= Decimal("1"):
            return _("A threshold's value is a number and its share of the weight is within 0–1.")
        if previous is not None and value <= previous:
            return _("Threshold values rise from one pair to the next.")
        previous = value
    return None


def indicator_create(*, programme: Programme, data: dict[str, Any], context: ChangeContext) -> Indicator:
    """Add an indicator to a programme (the provincial office, the loader)."""
    with transaction.atomic():
        indicator = Indicator(programme=programme, **{k: v for k, v in data.items() if k in INDICATOR_FIELDS})
        indicator_rules_check(indicator)
        indicator.save(force_insert=True)
        audit_record(context=context, action="create", instance=indicator, before=None, after=snapshot(indicator))
    return indicator


def indicator_update(
    *, indicator_id: int, expected_version: int | None, changes: dict[str, Any], context: ChangeContext
) -> Indicator:
    """Change an indicator (its programme stays)."""
    changes = {k: v for k, v in changes.items() if k in INDICATOR_FIELDS}
    with transaction.atomic():
        indicator = lock_version(Indicator, indicator_id, expected_version)
        before = snapshot(indicator)
        for field, value in changes.items():
            setattr(indicator, field, value)
        indicator_rules_check(indicator)
        stored = {Indicator._meta.get_field(name).attname: getattr(indicator, Indicator._meta.get_field(name).attname)
                  for name in INDICATOR_FIELDS}
        bump_version(indicator, **stored)
        audit_record(context=context, action="update", instance=indicator, before=before, after=snapshot(indicator))
    return indicator


def indicator_target_create(*, indicator: Indicator, data: dict[str, Any], context: ChangeContext) -> IndicatorTarget:
    """Add a dated target to an indicator."""
    with transaction.atomic():
        lock_version(Indicator, indicator.pk, None)  # serialises writers of one indicator's targets
        target = IndicatorTarget(indicator=indicator, **{k: v for k, v in data.items() if k in TARGET_FIELDS})
        target.scope_code = target.scope_code or ""
        indicator_target_rules_check(target)
        target.save(force_insert=True)
        audit_record(context=context, action="create", instance=target, before=None, after=snapshot(target))
    return target


def indicator_target_update(
    *, target_id: int, expected_version: int | None, changes: dict[str, Any], context: ChangeContext
) -> IndicatorTarget:
    changes = {k: v for k, v in changes.items() if k in TARGET_FIELDS}
    with transaction.atomic():
        target = lock_version(IndicatorTarget, target_id, expected_version)
        lock_version(Indicator, target.indicator_id, None)
        before = snapshot(target)
        for field, value in changes.items():
            setattr(target, field, value)
        target.scope_code = target.scope_code or ""
        indicator_target_rules_check(target)
        bump_version(target, **{name: getattr(target, name) for name in TARGET_FIELDS})
        audit_record(context=context, action="update", instance=target, before=before, after=snapshot(target))
    return target


def indicator_target_delete(*, target_id: int, expected_version: int | None, context: ChangeContext) -> None:
    with transaction.atomic():
        target = lock_version(IndicatorTarget, target_id, expected_version)
        audit_record(context=context, action="delete", instance=target, before=snapshot(target), after=None)
        target.delete()


def evaluation_tree_create(
    *, programme: Programme, data: dict[str, Any], nodes: list[dict[str, Any]], context: ChangeContext
) -> EvaluationTree:
    """Add an evaluation tree with all its nodes, checked as a whole."""
    with transaction.atomic():
        tree = EvaluationTree(programme=programme, **{k: v for k, v in data.items() if k in TREE_FIELDS})
        _tree_check(tree)
        evaluation_nodes_check(tree=tree, nodes=nodes)
        tree.save(force_insert=True)
        audit_record(context=context, action="create", instance=tree, before=None, after=snapshot(tree))
        _nodes_create(tree=tree, nodes=nodes, context=context)
    return tree


def evaluation_tree_update(
    *, tree_id: int, expected_version: int | None, changes: dict[str, Any], nodes: list[dict[str, Any]] | None,
    context: ChangeContext,
) -> EvaluationTree:
    """Change a tree's description and, when ``nodes`` is given, replace its nodes as a whole."""
    with transaction.atomic():
        tree = lock_version(EvaluationTree, tree_id, expected_version)
        before = snapshot(tree)
        for field, value in changes.items():
            if field in TREE_FIELDS:
                setattr(tree, field, value)
        _tree_check(tree)
        if nodes is not None:
            evaluation_nodes_check(tree=tree, nodes=nodes)
        bump_version(tree, **{name: getattr(tree, name) for name in TREE_FIELDS})
        audit_record(context=context, action="update", instance=tree, before=before, after=snapshot(tree))
        if nodes is not None:
            for node in tree.nodes.select_for_update().order_by("code"):
                audit_record(context=context, action="delete", instance=node, before=snapshot(node), after=None)
            tree.nodes.all().delete()  # the parent key cascades to the children
            _nodes_create(tree=tree, nodes=nodes, context=context)
    return tree


def _tree_check(tree: EvaluationTree) -> None:
    duplicate = EvaluationTree.objects.filter(programme_id=tree.programme_id, code=tree.code)
    if tree.pk:
        duplicate = duplicate.exclude(pk=tree.pk)
    if tree.code and duplicate.exists():
        raise ValidationError({"code": [ValidationError(_("The programme already has a tree with this code."),
                                                        code="unique")]})
    tree.full_clean(validate_unique=False, validate_constraints=False)


def _nodes_create(*, tree: EvaluationTree, nodes: list[dict[str, Any]], context: ChangeContext) -> None:
    created: dict[str, EvaluationNode] = {}
    # Parents before children: first level, then second, then items.
    order = {EvaluationNode.Level.FIRST: 0, EvaluationNode.Level.SECOND: 1, EvaluationNode.Level.ITEM: 2}
    for row in sorted(nodes, key=lambda n: order[n["level"]]):
        fields = {k: v for k, v in row.items() if k in NODE_FIELDS and k != "parent"}
        fields["weight"] = _as_weight(fields["weight"])
        fields.setdefault("rule", "")
        fields["rule_params"] = fields.get("rule_params") or {}
        node = EvaluationNode(tree=tree, parent=created.get(row.get("parent") or ""), **fields)
        node.full_clean(validate_unique=False, validate_constraints=False)
        node.save(force_insert=True)
        audit_record(context=context, action="create", instance=node, before=None, after=snapshot(node))
        created[node.code] = node


# --- Loading the indicator sections of a programme file ---------------------------------------------


def _load_indicators(*, programme: Programme, data: dict[str, Any], context: ChangeContext) -> dict[str, int]:
    """Create the indicators, targets and trees of a programme file that do not exist yet.

    Natural keys: indicator ``code`` and tree ``code`` within the programme. An indicator's targets are applied
    as a whole only while it has none, and a tree's nodes only with the tree: an office's later edits (a target
    removed, a weight changed) are never undone by a reload.
    """
    counts = {"indicators": 0, "targets": 0, "evaluation_trees": 0, "evaluation_nodes": 0}
    rows = data.get("indicators", [])
    by_code = {i.code: i for i in programme.indicators.all()}
    # Weights first: a weighted mean names its weight indicator, which must exist when it is checked.
    for row in sorted(rows, key=lambda r: r.get("rollup") == Indicator.Rollup.WEIGHTED_MEAN):
        indicator = by_code.get(row["code"])
        if indicator is None:
            indicator = indicator_create(programme=programme, data=_indicator_fields(programme, row, by_code),
                                         context=context)
            by_code[indicator.code] = indicator
            counts["indicators"] += 1
        if row.get("targets") and not indicator.targets.exists():
            for target_row in row["targets"]:
                indicator_target_create(indicator=indicator, data=_target_fields(target_row), context=context)
                counts["targets"] += 1
    for row in data.get("evaluation_trees", []):
        if programme.evaluation_trees.filter(code=row["code"]).exists():
            continue
        nodes = [_node_fields(node, by_code, row["code"]) for node in row.get("nodes", [])]
        evaluation_tree_create(programme=programme, data={k: row[k] for k in TREE_FIELDS if k in row}, nodes=nodes,
                               context=context)
        counts["evaluation_trees"] += 1
        counts["evaluation_nodes"] += len(nodes)
    return counts


def _indicator_fields(programme: Programme, row: dict[str, Any], by_code: dict[str, Indicator]) -> dict[str, Any]:
    fields = {k: row[k] for k in INDICATOR_FIELDS if k in row and k not in ("task", "subtask", "rollup_weight")}
    if row.get("subtask"):
        subtask = SubTask.objects.filter(task__programme=programme, code=row["subtask"]).first()
        if subtask is None:
            raise CatalogDataError(f"Indicator {row['code']}: unknown sub-task {row['subtask']!r}.")
        fields["subtask"] = subtask
    if row.get("task"):
        task = Task.objects.filter(programme=programme, code=row["task"]).first()
        if task is None:
            raise CatalogDataError(f"Indicator {row['code']}: unknown task {row['task']!r}.")
        fields["task"] = task
    if row.get("rollup_weight"):
        if row["rollup_weight"] not in by_code:
            raise CatalogDataError(f"Indicator {row['code']}: unknown weight indicator {row['rollup_weight']!r}.")
        fields["rollup_weight"] = by_code[row["rollup_weight"]]
    if row.get("baseline"):
        fields["baseline_value"] = Decimal(str(row["baseline"]["value"]))
        fields["baseline_on"] = dt.date.fromisoformat(row["baseline"]["on"])
    return fields


def _target_fields(row: dict[str, Any]) -> dict[str, Any]:
    fields = {k: row[k] for k in TARGET_FIELDS if k in row}
    fields["due_on"] = dt.date.fromisoformat(row["due_on"])
    fields["value"] = Decimal(str(row["value"]))
    return fields


def _node_fields(row: dict[str, Any], indicators: dict[str, Indicator], tree_code: str) -> dict[str, Any]:
    fields = {k: row[k] for k in NODE_FIELDS if k in row and k != "indicator"}
    fields["weight"] = Decimal(str(row["weight"]))
    fields.setdefault("basis", Basis.DEFAULT)
    if row.get("indicator"):
        if row["indicator"] not in indicators:
            raise CatalogDataError(f"Tree {tree_code}, node {row['code']}: unknown indicator {row['indicator']!r}.")
        fields["indicator"] = indicators[row["indicator"]]
    return fields
