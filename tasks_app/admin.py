"""Admin for the catalog. Every change is audited (``AuditedAdminMixin``)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from smartcity.admin_audit import AuditedAdminMixin
from tasks_app.models import Department, Pillar, Programme, SubTask, SubTaskDepartment, Task


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
