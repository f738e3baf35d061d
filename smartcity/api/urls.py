from django.urls import path
from rest_framework.routers import SimpleRouter

from smartcity.api.audit import AuditEntryViewSet
from smartcity.api.views import ApiTokenViewSet, TokenObtainView

router = SimpleRouter(trailing_slash=True)
router.register("auth/tokens", ApiTokenViewSet, basename="token")
router.register("audit", AuditEntryViewSet, basename="audit-entry")

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    *router.urls,
]
