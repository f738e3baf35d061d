from pilots.models.plans import Milestone, PlanItem
from pilots.models.registry import Membership, Organisation, Pilot, PilotQuerySet, PilotStateChange, Prefecture
from pilots.models.reports import ProgressReport, ReportAttachment, ReportTransition

__all__ = [
    "Membership", "Milestone", "Organisation", "Pilot", "PilotQuerySet", "PilotStateChange", "PlanItem",
    "Prefecture", "ProgressReport", "ReportAttachment", "ReportTransition",
]
