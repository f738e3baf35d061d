"""Admin for the catalog. Every change is audited (``AuditedAdminMixin``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from smartcity.admin_audit import AuditedAdminMixin
from tasks_app.models import (
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
from tasks_app.services import evaluation_nodes_check, indicator_rules_check, indicator_target_rules_check


@admin.register(Programme)
class ProgrammeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "document_number", "title_zh", "goal_pilot_count", "goal_deadline", "report_due_days")
    search_fields = ("code", "document_number", "title_zh", "title_en")


@admin.register(Pillar)
class PillarAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "kind", "programme", "order")
    list_filter = ("programme", "kind")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(Task)
class TaskAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_zh", "pillar", "programme", "order")
    list_filter = ("programme", "pillar")
    search_fields = ("code", "name_zh", "name_en")
    list_select_related = ("pillar", "programme")


class SubTaskDepartmentFormSet(BaseInlineFormSet):
    """A sub-task has exactly one lead department, checked over all rows of the form together.

    Django does not check an inline row's constraints on the parent key against the stored rows, so
    this is where "one lead" is enforced; checking the rows together also lets the office move the
    lead from one department to another in a single save.
    """

    def clean(self):
        super().clean()
        leads = [
            form for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("role") == SubTaskDepartment.Role.LEAD
        ]
        if len(leads) != 1:
            raise ValidationError(
                _("A sub-task needs exactly one lead department; this one would have %(count)d."),
                code="lead_count",
                params={"count": len(leads)},
            )


class SubTaskDepartmentInline(admin.TabularInline):
    # Audited by the parent admin's save_formset.
    model = SubTaskDepartment
    formset = SubTaskDepartmentFormSet
    extra = 0
    min_num = 1
    fields = ("department", "role", "basis")


@admin.register(SubTask)
class SubTaskAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_zh", "task", "weight", "lead_department")
    list_filter = ("task__programme", "task")
    search_fields = ("code", "name_zh", "name_en")
    list_select_related = ("task",)
    inlines = [SubTaskDepartmentInline]

    def get_queryset(self, request):
        # lead_department reads the assignments of every listed row.
        return super().get_queryset(request).prefetch_related("assignments__department")

    @admin.display(description=_("lead department"))
    def lead_department(self, subtask: SubTask):
        leads = [a.department for a in subtask.assignments.all() if a.role == SubTaskDepartment.Role.LEAD]
        return leads[0] if leads else "—"


@admin.register(Department)
class DepartmentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(SubTaskDepartment)
class SubTaskDepartmentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Read-only list across sub-tasks; edit assignments in a sub-task, where one lead is enforced."""

    list_display = ("subtask", "department", "role", "basis")
    list_filter = ("role", "basis", "department", "subtask__task__programme")
    list_select_related = ("subtask", "department")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Indicators, targets and evaluation trees: the same rules as the API (tasks_app/services.py) ---------


class VersionBumpAdminMixin(AuditedAdminMixin):
    """An edit in the admin is a new version, so that an API client holding the old ETag is told (412)."""

    def save_model(self, request, obj, form, change):
        if change:
            obj.version += 1
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        for inline_form in formset.forms:
            instance = inline_form.instance
            if instance.pk and inline_form.has_changed() and hasattr(instance, "version"):
                instance.version += 1
        super().save_formset(request, form, formset, change)


class _RulesForm(forms.ModelForm):
    """A model form that also runs one of the catalog's rule checks on the instance it would save."""

    rules_check = None

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            try:
                type(self).rules_check(self.instance)
            except ValidationError as exc:
                self._update_errors(exc)


class IndicatorForm(_RulesForm):
    rules_check = staticmethod(indicator_rules_check)


class IndicatorTargetForm(_RulesForm):
    rules_check = staticmethod(indicator_target_rules_check)


class IndicatorTargetInline(admin.TabularInline):
    # Audited by the parent admin's save_formset.
    model = IndicatorTarget
    form = IndicatorTargetForm
    extra = 0
    fields = ("level", "scope_code", "due_on", "value", "basis", "source")


@admin.register(Indicator)
class IndicatorAdmin(VersionBumpAdminMixin, admin.ModelAdmin):
    form = IndicatorForm
    list_display = ("code", "name_zh", "programme", "kind", "unit_zh", "rollup", "subtask", "task", "basis")
    list_filter = ("programme", "kind", "rollup", "basis")
    search_fields = ("code", "name_zh", "name_en")
    list_select_related = ("programme", "subtask", "task")
    exclude = ("version",)
    inlines = [IndicatorTargetInline]


class EvaluationNodeFormSet(BaseInlineFormSet):
    """The nodes of a tree are checked together, as the API checks a whole tree: sums span rows."""

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        rows = [form.cleaned_data for form in self.forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        nodes = [{
            "code": row.get("code"), "parent": row["parent"].code if row.get("parent") else None,
            "level": row.get("level"), "weight": row.get("weight"), "indicator": row.get("indicator"),
            "rule": row.get("rule") or "", "rule_params": row.get("rule_params") or {},
        } for row in rows]
        try:
            evaluation_nodes_check(tree=self.instance, nodes=nodes)
        except ValidationError as exc:
            raise ValidationError([
                f"{rows[int(field[6:field.index(']')])].get('code')}: {message}" if field.startswith("nodes[")
                else message
                for field, errors in exc.error_dict.items() for error in errors for message in error
            ]) from None


class EvaluationNodeInline(admin.TabularInline):
    # Audited by the parent admin's save_formset.
    model = EvaluationNode
    formset = EvaluationNodeFormSet
    fk_name = "tree"
    extra = 0
    fields = ("code", "parent", "level", "name_zh", "name_en", "weight", "indicator", "rule", "rule_params", "order",
              "basis", "source")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A parent is a node of the same tree; an item's indicator one of the tree's programme.
        tree_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if db_field.name == "parent":
            kwargs["queryset"] = EvaluationNode.objects.filter(tree_id=tree_id or 0)
        elif db_field.name == "indicator":
            programme_id = EvaluationTree.objects.filter(pk=tree_id or 0).values_list("programme_id", flat=True).first()
            kwargs["queryset"] = Indicator.objects.filter(programme_id=programme_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(EvaluationTree)
class EvaluationTreeAdmin(VersionBumpAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_zh", "programme", "edition", "basis")
    list_filter = ("programme", "basis")
    search_fields = ("code", "name_zh", "name_en", "edition")
    list_select_related = ("programme",)
    exclude = ("version",)
    inlines = [EvaluationNodeInline]
