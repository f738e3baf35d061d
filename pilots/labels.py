"""The label shown beside demo data wherever a person or a client sees it: the API, the dashboard, the sheets."""

from __future__ import annotations

# Both languages at once: an export or an API answer is read in either, whatever the request's language.
DEMO_LABEL = {"zh": "演示数据,非正式认定", "en": "Demo data, not an official designation"}

__all__ = ["DEMO_LABEL"]
