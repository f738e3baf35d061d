from pilots.models.bulletins import Bulletin, BulletinTemplate
from pilots.models.completion import (
    CompletionRollup, CompletionSettings, ForecastStatus, ReportingRate, ScheduleStatus, SubtaskCompletion,
)
from pilots.models.lifecycle import (
    Acceptance, AcceptanceReview, AcceptanceStep, ApplicationRound, ApplicationStep, LifecycleDocument, PilotApplication,
    RoundQuota,
)
from pilots.models.plans import Milestone, PlanChangeProposal, PlanItem
from pilots.models.registry import Membership, Organisation, Pilot, PilotQuerySet, PilotStateChange, Prefecture
from pilots.models.reminders import (
    LEVEL_URGENCY, CurrentOverdueItem, Notification, OverdueListComputation, Reminder, ReminderKind, ReminderLevel,
    ReminderRule,
)
from pilots.models.reports import ProgressReport, ReportAttachment, ReportTransition
from pilots.models.webhooks import WebhookDelivery, WebhookEvent, WebhookSubscription

__all__ = [
    "Acceptance", "AcceptanceReview", "AcceptanceStep", "ApplicationRound", "ApplicationStep", "LifecycleDocument",
    "PilotApplication", "RoundQuota",
    "Bulletin", "BulletinTemplate",
    "CompletionRollup", "CompletionSettings", "ForecastStatus", "ReportingRate", "ScheduleStatus", "SubtaskCompletion",
    "Membership", "Milestone", "Organisation", "Pilot", "PilotQuerySet", "PilotStateChange", "PlanChangeProposal", "PlanItem",
    "Prefecture", "ProgressReport", "ReportAttachment", "ReportTransition",
    "LEVEL_URGENCY", "CurrentOverdueItem", "Notification", "OverdueListComputation", "Reminder", "ReminderKind",
    "ReminderLevel", "ReminderRule",
    "WebhookDelivery", "WebhookEvent", "WebhookSubscription",
]
