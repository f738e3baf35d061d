from smartcity.models.audit import AuditEntry
from smartcity.models.calendar import CalendarDay, CalendarNotice, CalendarRevision, CalendarYear
from smartcity.models.heartbeat import WorkerHeartbeat
from smartcity.models.idempotency import IdempotencyRecord
from smartcity.models.jobs import JobRun
from smartcity.models.outbox import OutboxMessage
from smartcity.models.signins import LoginLockout, SignInEvent
from smartcity.models.tokens import ApiToken
from smartcity.models.versioned import VersionedModel

__all__ = ["ApiToken", "AuditEntry", "CalendarDay", "CalendarNotice", "CalendarRevision", "CalendarYear", "IdempotencyRecord", "JobRun", "LoginLockout", "OutboxMessage", "SignInEvent", "VersionedModel", "WorkerHeartbeat"]
