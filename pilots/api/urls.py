from rest_framework.routers import SimpleRouter

from pilots.api.registry import PilotViewSet, PrefectureViewSet
from pilots.api.reports import ReportViewSet

router = SimpleRouter()
router.register("prefectures", PrefectureViewSet, basename="prefecture")
router.register("pilots", PilotViewSet, basename="pilot")
router.register("reports", ReportViewSet, basename="report")

urlpatterns = router.urls
