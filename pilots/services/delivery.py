"""The one error of a message not delivered: a reminder digest through a channel, or a webhook POST."""

from __future__ import annotations


class DeliveryError(Exception):
    """Not delivered. ``retryable``: whether trying again can help (the caller records the error either
    way); ``status``: the receiver's HTTP status, when it answered (webhooks)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
