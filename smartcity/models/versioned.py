from django.db import models


class VersionedModel(models.Model):
    """A row whose every change bumps ``version``: the ETag clients send back in ``If-Match``.

    Writers update with ``filter(pk=…, version=expected).update(version=F("version") + 1, …)`` (see
    ``smartcity.api.concurrency``) so that of two offices editing the same row, the second is told.
    """

    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True

    @property
    def etag(self) -> str:
        return f'"{self.pk}.{self.version}"'
