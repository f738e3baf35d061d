"""The completion API: read-only views of the figures the completion engine stored.

Nothing here aggregates reports: every endpoint reads ``CompletionRollup``, ``SubtaskCompletion``
or ``ReportingRate`` rows through ``pilots.selectors.completion``. Each row carries the date it is
``as_of`` and when it was ``computed_at``. ``as_of`` defaults to the newest date computed;
``real_only=true`` reads the variant without demo pilots, demo reports and demo plans.

- ``serializers``: the output, defined once (the OpenAPI schema and, through ``rendering``, the JSON);
- ``rendering``: the plan built from those serializers that renders ``.values()`` rows fast;
- ``filtersets``: the query parameters;
- ``views``: the endpoints.

The names below stay importable from ``pilots.api.completion``, as before the split.
"""

from pilots.api.completion.filtersets import (  # noqa: F401
    BehindScheduleFilterSet,
    CompletionHistoryFilterSet,
    DepartmentCompletionFilterSet,
    PeriodFilter,
    PrefectureCompletionFilterSet,
    ProvinceQuerySerializer,
    ReportingRateFilterSet,
    SnapshotFilterSet,
    SnapshotQuerySerializer,
    StrictBooleanFilter,
    TaskCompletionFilterSet,
    validated_query,
)
from pilots.api.completion.rendering import Renderer, Rendering, renderer  # noqa: F401
from pilots.api.completion.serializers import (  # noqa: F401
    BehindScheduleSerializer,
    CompletionFiguresSerializer,
    CompletionHistorySerializer,
    DepartmentCompletionSerializer,
    ForecastSerializer,
    IncludesDemoLabelField,
    PilotCompletionSerializer,
    PilotTaskCompletionSerializer,
    PrefectureCompletionSerializer,
    ProvinceCompletionSerializer,
    ReportingRateSerializer,
    SubtaskCompletionSerializer,
    TaskCompletionSerializer,
)
from pilots.api.completion.views import (  # noqa: F401
    BehindScheduleViewSet,
    CompletionHistoryViewSet,
    DepartmentCompletionViewSet,
    PilotCompletionView,
    PrefectureCompletionViewSet,
    ProvinceCompletionView,
    ReportingRateViewSet,
    TaskCompletionViewSet,
)
