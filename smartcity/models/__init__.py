from smartcity.models.audit import AuditEntry
from smartcity.models.tokens import ApiToken

__all__ = ["ApiToken", "AuditEntry"]
