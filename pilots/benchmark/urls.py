"""The service's URLs, and the benchmark's floor endpoint beside them (benchmark server only)."""

from django.urls import path

from pilots.benchmark.views import FloorWriteView
from smartcity.urls import handler404, handler500, urlpatterns as service_urlpatterns  # noqa: F401

urlpatterns = [
    path("api/v1/_benchmark/floor-write/", FloorWriteView.as_view(), name="benchmark-floor-write"),
    *service_urlpatterns,
]
