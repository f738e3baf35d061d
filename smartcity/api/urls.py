from django.urls import path
from rest_framework.routers import SimpleRouter

from smartcity.api.views import ApiTokenViewSet, TokenObtainView

router = SimpleRouter(trailing_slash=True)
router.register("auth/tokens", ApiTokenViewSet, basename="token")

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    *router.urls,
]
