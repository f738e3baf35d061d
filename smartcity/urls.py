from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from smartcity import docs, health
from smartcity.auth import pages as account_pages
from smartcity.auth import oidc, passwords
from smartcity.metrics import metrics_view

# A one-time link's user id (base64url) and token, ASCII only: no second spelling of a link.
RESET_LINK = r"(?P<uidb64>[0-9A-Za-z_\-]+)/(?P<token>[0-9A-Za-z\-]+)"

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
    path("accounts/login/", oidc.LoginView.as_view(), name="login"),
    path("oidc/authenticate/", oidc.sso_authenticate, name="oidc_authentication_init"),
    path("oidc/callback/", oidc.sso_callback, name="oidc_authentication_callback"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/change/", passwords.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/change/done/",
         auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
         name="password_change_done"),
    path("accounts/password/reset/", passwords.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/",
         auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
         name="password_reset_done"),
    re_path(rf"^accounts/password/reset/{RESET_LINK}/$", passwords.PasswordResetConfirmView.as_view(),
            name="password_reset_confirm"),
    path("accounts/password/reset/complete/",
         auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
         name="password_reset_complete"),
    re_path(rf"^accounts/invitation/{RESET_LINK}/$", passwords.InvitationAcceptView.as_view(), name="invitation_accept"),
    path("accounts/sign-ins/", account_pages.signin_record_page, name="signin-record"),
    path("accounts/lockouts/<int:pk>/lift/", account_pages.lockout_lift_page, name="lockout-lift"),
]


handler400 = "smartcity.error_pages.bad_request"
handler403 = "smartcity.error_pages.permission_denied"
handler404 = "smartcity.error_pages.page_not_found"
handler500 = "smartcity.error_pages.server_error"
