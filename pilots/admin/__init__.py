"""The pilots app's admin, one module per topic; Django's autodiscovery imports this package."""

from pilots.admin import bulletins, completion, lifecycle, registry, reminders, webhooks  # noqa: F401  (each registers its models)
