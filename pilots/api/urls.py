from rest_framework.routers import SimpleRouter

from pilots.api.views import PilotViewSet, PrefectureViewSet

router = SimpleRouter()
router.register("prefectures", PrefectureViewSet, basename="prefecture")
router.register("pilots", PilotViewSet, basename="pilot")

urlpatterns = router.urls
