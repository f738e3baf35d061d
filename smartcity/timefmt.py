"""One way to write an instant: ISO 8601 in the service's zone (``TIME_ZONE``, Asia/Shanghai, +08:00).

DRF's DateTimeField already renders API datetimes so; code that writes a datetime by hand (receipts, payloads,
files) uses ``local_iso`` rather than ``isoformat()``, which keeps whatever zone the value came with (UTC from
the database and from ``timezone.now()``).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder


@cache
def service_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_iso(value: dt.datetime | None) -> str | None:
    """``2021-10-15T10:00:00+08:00`` for any aware datetime of that instant; None stays None."""
    if value is None:
        return None
    return value.astimezone(service_zone()).isoformat()


class LocalTimeJSONEncoder(DjangoJSONEncoder):
    """Django's JSON encoder, writing aware datetimes with the service's offset instead of ``Z``."""

    def default(self, o):
        if isinstance(o, dt.datetime) and o.tzinfo is not None:
            o = o.astimezone(service_zone())
        return super().default(o)
