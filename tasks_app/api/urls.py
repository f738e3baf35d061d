from rest_framework.routers import SimpleRouter

from tasks_app.api.views import DepartmentViewSet, ProgrammeViewSet, SubTaskViewSet, TaskViewSet

router = SimpleRouter()
router.register("programmes", ProgrammeViewSet, basename="programme")
router.register("tasks", TaskViewSet, basename="task")
router.register("subtasks", SubTaskViewSet, basename="subtask")
router.register("departments", DepartmentViewSet, basename="department")

urlpatterns = router.urls
