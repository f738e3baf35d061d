from django.urls import path
from rest_framework.routers import SimpleRouter

from pilots.api.accounts import AccountViewSet
from pilots.api.bulk import urlpatterns as bulk_urlpatterns
from pilots.api.bulletins import BulletinViewSet
from pilots.api.completion import (
    BehindScheduleViewSet,
    CompletionHistoryViewSet,
    DepartmentCompletionViewSet,
    PilotCompletionView,
    PrefectureCompletionViewSet,
    ProvinceCompletionView,
    ReportingRateViewSet,
    TaskCompletionViewSet,
)
from pilots.api.lifecycle import AcceptanceViewSet, ApplicationViewSet, RoundViewSet
from pilots.api.periods import PeriodViewSet
from pilots.api.plans import MilestoneViewSet, PlanChangeProposalViewSet, PlanItemViewSet
from pilots.api.registry import PilotViewSet, PrefectureViewSet
from pilots.api.reminders import NotificationViewSet, OverdueView, ReminderViewSet
from pilots.api.reports import ReportViewSet
from pilots.api.webhooks import WebhookSubscriptionViewSet

router = SimpleRouter()
router.register("prefectures", PrefectureViewSet, basename="prefecture")
router.register("pilots", PilotViewSet, basename="pilot")
router.register("reports", ReportViewSet, basename="report")
router.register("plans", PlanItemViewSet, basename="plan")
router.register("periods", PeriodViewSet, basename="period")
router.register("milestones", MilestoneViewSet, basename="milestone")
router.register("plan-proposals", PlanChangeProposalViewSet, basename="plan-proposal")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("reminders", ReminderViewSet, basename="reminder")
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
router.register("application-rounds", RoundViewSet, basename="round")
router.register("applications", ApplicationViewSet, basename="application")
router.register("acceptances", AcceptanceViewSet, basename="acceptance")
router.register("bulletins", BulletinViewSet, basename="bulletin")
router.register("accounts", AccountViewSet, basename="account")
router.register("completion/prefectures", PrefectureCompletionViewSet, basename="completion-prefecture")
router.register("completion/tasks", TaskCompletionViewSet, basename="completion-task")
router.register("completion/departments", DepartmentCompletionViewSet, basename="completion-department")
router.register("completion/history", CompletionHistoryViewSet, basename="completion-history")
router.register("completion/behind", BehindScheduleViewSet, basename="completion-behind")
router.register("completion/reporting-rates", ReportingRateViewSet, basename="completion-reporting-rate")

completion_urlpatterns = [
    path("pilots/<int:pk>/completion/", PilotCompletionView.as_view(), name="pilot-completion"),
    path("completion/province/", ProvinceCompletionView.as_view(), name="completion-province"),
    path("overdue/", OverdueView.as_view(), name="overdue"),
]

urlpatterns = [*bulk_urlpatterns, *completion_urlpatterns, *router.urls]  # bulk first: "reports/batch/" is no report id
