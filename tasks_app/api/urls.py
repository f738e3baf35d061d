from rest_framework.routers import SimpleRouter

from tasks_app.api.views import (
    DepartmentViewSet,
    EvaluationTreeViewSet,
    IndicatorTargetViewSet,
    IndicatorViewSet,
    ProgrammeViewSet,
    SubTaskViewSet,
    TaskViewSet,
)

router = SimpleRouter()
router.register("programmes", ProgrammeViewSet, basename="programme")
router.register("tasks", TaskViewSet, basename="task")
router.register("subtasks", SubTaskViewSet, basename="subtask")
router.register("departments", DepartmentViewSet, basename="department")
router.register("indicators", IndicatorViewSet, basename="indicator")
router.register("indicator-targets", IndicatorTargetViewSet, basename="indicator-target")
router.register("evaluation-trees", EvaluationTreeViewSet, basename="evaluation-tree")

urlpatterns = router.urls
