from django.urls import path
from rest_framework.routers import SimpleRouter

from smartcity.api.audit import AuditEntryViewSet
from smartcity.api.calendar import CalendarDayViewSet, CalendarImportView
from smartcity.api.signins import LoginLockoutViewSet, SignInEventViewSet
from smartcity.api.views import ApiTokenViewSet, TokenObtainView

router = SimpleRouter(trailing_slash=True)
router.register("auth/tokens", ApiTokenViewSet, basename="token")
router.register("audit", AuditEntryViewSet, basename="audit-entry")
router.register("calendar/days", CalendarDayViewSet, basename="calendar-day")
router.register("auth/sign-ins", SignInEventViewSet, basename="sign-in")
router.register("auth/lockouts", LoginLockoutViewSet, basename="lockout")

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    path("calendar/import/", CalendarImportView.as_view(), name="calendar-import"),
    *router.urls,
]
