"""The service's URLs, and the benchmark's floor endpoint beside them (benchmark server only)."""

from django.urls import path

from pilots.benchmark.views import FloorWriteView
from smartcity.urls import handler400, handler403, handler404, handler500  # noqa: F401
from smartcity.urls import urlpatterns as service_urlpatterns

urlpatterns = [
    path("api/v1/_benchmark/floor-write/", FloorWriteView.as_view(), name="benchmark-floor-write"),
    *service_urlpatterns,
]
