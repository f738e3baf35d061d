# The Celery app is imported with Django so that `shared_task` binds to it and
# `transaction.on_commit(task.delay)` works from anywhere in the project.
from smartcity.celery import app as celery_app

__all__ = ("celery_app",)
