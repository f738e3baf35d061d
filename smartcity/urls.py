from django.contrib import admin
from django.utils.translation import gettext as _
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from smartcity import docs, health
from smartcity.metrics import metrics_view
from smartcity.api.errors import json_error_response

api_v1 = [
    path("", include("smartcity.api.urls")),
    path("", include("tasks_app.api.urls")),
    path("", include("pilots.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/redoc/redoc.standalone.js", docs.redoc_bundle, name="redoc-bundle"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("dashboard/", include("pilots.dashboard.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error_response(404, "not_found", _("No such endpoint."))
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_error_response(500, "server_error", _("Internal error; it has been logged with this request ID."))
    from django.views.defaults import server_error

    return server_error(request)
