"""Delivery channels for reminder digests: one class per channel, one template per message.

``Channel.deliver(recipient, digest)`` either delivers the whole digest or raises ``DeliveryError``
saying whether a retry can help (``retryable``). The sweep records the error on each reminder row
(``attempts``, ``last_error``; ``failed_at`` when a retry cannot help), where the admin shows it.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from pilots.links import overdue_api, overdue_page
from pilots.models import Notification, Reminder
from pilots.models.reminders import reminder_kind_labels
from pilots.services.delivery import DeliveryError

ENGLISH = "en"
CHINESE = "zh-hans"

# A reminder's kind reads as the model's choice label (``ReminderKind``, translated like every label);
# the levels keep the digest's own wording ("已逾期", where the dashboard's short label says "逾期").
LEVEL_TEXT = {
    "due_soon": ("即将到期", "due soon"),
    "overdue": ("已逾期", "overdue"),
    "repeat": ("仍逾期", "still overdue"),
    "escalation": ("已升级督办", "escalated"),
}


class DigestRow(NamedTuple):
    """The columns of one claimed reminder that its digest needs (a ``values_list`` of ``_fields``)."""

    id: int
    channel: str
    recipient: str
    recipient_email: str
    recipient_user_id: int | None
    kind: str
    level: str
    pilot_id: int
    subtask_id: int
    period: str
    due_on: dt.date
    link: str


@dataclass
class DigestItem:
    kind: str
    level: str
    pilot: str
    subtask: str
    period: str
    due_on: dt.date
    link: str

    @property
    def due(self) -> str:
        """The due date as the digests print it (what ``|date:"Y-m-d"`` gives, without its per-item cost)."""
        return self.due_on.isoformat()


@dataclass
class Digest:
    """Everything one recipient is told in one run."""

    recipient: str  # "email:addr" or "in_app:user id"
    channel: str
    email: str
    user: object
    language: str
    items: list[DigestItem]

    @classmethod
    def for_rows(cls, rows: list[DigestRow], *, user, pilots: dict[int, tuple[str, str]],
                 subtasks: dict[int, str]) -> Digest:
        """The digest of one recipient's claimed reminders, in their order.

        ``user``: the recipient's user (with ``membership``), if any; ``pilots``: (name_zh, name_en) by id;
        ``subtasks``: code by id.
        """
        first = rows[0]
        membership = getattr(user, "membership", None) if user is not None else None
        language = ENGLISH if membership is not None and membership.language == ENGLISH else CHINESE
        english = language == ENGLISH
        kinds = reminder_kind_labels(language)
        items = [
            DigestItem(kind=kinds[r.kind], level=LEVEL_TEXT[r.level][english],
                       pilot=_pilot_name(pilots[r.pilot_id], english=english), subtask=subtasks[r.subtask_id],
                       period=r.period, due_on=r.due_on, link=r.link)
            for r in rows
        ]
        return cls(recipient=first.recipient, channel=first.channel, email=first.recipient_email, user=user,
                   language=language, items=items)

    def render(self, template: str) -> str:
        with translation.override(self.language):
            return render_to_string(template, {"digest": self, "english": self.language == ENGLISH,
                                               "site_url": settings.SITE_URL})


def _pilot_name(names: tuple[str, str], *, english: bool) -> str:
    name_zh, name_en = names
    return (name_en or name_zh) if english else name_zh


class Channel:
    name: str = ""

    def deliver(self, recipient: str, digest: Digest) -> None:
        raise NotImplementedError


class EmailChannel(Channel):
    """One email per digest, through Django's email framework (``EMAIL_BACKEND``)."""

    name = Reminder.Channel.EMAIL

    def deliver(self, recipient: str, digest: Digest) -> None:
        subject = " ".join(digest.render("reminders/digest_email_subject.txt").split())
        message = EmailMultiAlternatives(subject=subject, body=digest.render("reminders/digest_email.txt"),
                                         from_email=settings.DEFAULT_FROM_EMAIL, to=[digest.email])
        try:
            message.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc


class InAppChannel(Channel):
    """One notification per digest in the user's inbox (``/api/v1/notifications/``)."""

    name = Reminder.Channel.IN_APP

    def deliver(self, recipient: str, digest: Digest) -> None:
        if digest.user is None:
            raise DeliveryError("an in-app reminder needs a user", retryable=False)
        Notification.objects.create(
            user=digest.user,
            title=" ".join(digest.render("reminders/digest_email_subject.txt").split())[:200],
            body=digest.render("reminders/digest_notification.txt"),
            link=overdue_page(), api_url=overdue_api(),
        )


CHANNELS: dict[str, Channel] = {EmailChannel.name: EmailChannel(), InAppChannel.name: InAppChannel()}
