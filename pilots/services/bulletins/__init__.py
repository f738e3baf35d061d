"""The quarterly bulletin (季度通报): requested on demand or by the schedule, generated only by the worker.

- ``bulletin_request`` (the API's POST, the schedule) records a queued ``Bulletin`` and, in the same
  transaction, the outbox message that has the worker generate it. One bulletin per programme, quarter and
  kind: asking again returns the existing one unless ``again`` is set, which queues the next revision.
- ``bulletin_generate`` (Celery task ``pilots.generate_bulletin``) claims the row with a conditional
  update (queued → running), so two runs at once generate it once; it stores the figures, the Word file
  and the PDF, then publishes (running → published) and emits ``bulletin.published`` in that transaction.
- ``bulletin_schedule_due`` (beat, daily) requests the last quarter's bulletin once its deadline is
  ``BULLETIN_WORKING_DAYS_AFTER_DEADLINE`` working days past.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pilots import task_names
from pilots.models import Bulletin, BulletinTemplate, Pilot, Prefecture, WebhookEvent
from pilots.periods import Period
from smartcity.audit import ChangeContext, create_audited
from smartcity.links import site_url
from smartcity.outbox import outbox_enqueue
from smartcity.workdays import add_working_days
from tasks_app.models import Programme

logger = logging.getLogger(__name__)

GENERATE_TASK = task_names.GENERATE_BULLETIN
# A run that has held a bulletin this long without finishing died (a worker lost mid-way): the next may take over.
STALE_AFTER = dt.timedelta(minutes=15)
Status = Bulletin.Status


def bulletin_api(bulletin_id: int, suffix: str = "") -> str:
    return site_url(f"/api/v1/bulletins/{bulletin_id}/{suffix}")


def _recipients(programme: Programme) -> list[Prefecture]:
    """By default a bulletin goes to every prefecture with a pilot in the programme."""
    return list(Prefecture.objects.filter(pilots__programme=programme).distinct().order_by("code"))


def bulletin_request(*, programme: Programme, period: Period, as_of: dt.date | None = None, real_only: bool = False,
                     document_number: str = "", issuer: str = "", again: bool = False,
                     trigger: str = Bulletin.Trigger.REQUEST, context: ChangeContext,
                     today: dt.date | None = None) -> tuple[Bulletin, bool]:
    """The programme's bulletin for ``period`` (created and queued if there is none, or if ``again``).

    Returns the bulletin and whether this call created it. ``as_of`` (default today) must lie between the
    end of the quarter and today: a bulletin reports on a finished quarter.
    """
    today = today or timezone.localdate()
    as_of = as_of or today
    if period.end >= today:
        raise ValidationError({"period": _("A bulletin reports on a finished quarter; %(period)s has not ended.")
                               % {"period": period}})
    if as_of <= period.end or as_of > today:
        raise ValidationError({"as_of": _("The figures' date must lie after the quarter's end (%(end)s) and not "
                                          "after today.") % {"end": period.end.isoformat()}})
    with transaction.atomic():
        latest = (Bulletin.objects.select_for_update().filter(programme=programme, period=str(period),
                                                              kind=Bulletin.Kind.QUARTERLY)
                  .order_by("-revision").first())
        if latest is not None and not again:
            return latest, False
        template = BulletinTemplate.objects.filter(active=True).order_by("-uploaded_at", "-id").first()
        bulletin = Bulletin(
            programme=programme, period=str(period), kind=Bulletin.Kind.QUARTERLY,
            revision=latest.revision + 1 if latest else 1, as_of=as_of, real_only=real_only,
            document_number=document_number, issuer=issuer, template=template, trigger=trigger,
            requested_by=context.user if getattr(context.user, "is_authenticated", False) else None,
        )
        try:
            with transaction.atomic():
                create_audited(instance=bulletin, context=context)
        except (IntegrityError, ValidationError) as exc:
            # Another request created this revision a moment ago (the unique key): that one stands.
            existing = Bulletin.objects.filter(programme=programme, period=str(period), kind=Bulletin.Kind.QUARTERLY,
                                               revision=bulletin.revision).first()
            if existing is None:
                raise exc
            return existing, False
        bulletin.recipients.set(_recipients(programme))
        outbox_enqueue(task=GENERATE_TASK, kwargs={"bulletin_id": bulletin.pk})
    return bulletin, True


def bulletin_generate(*, bulletin_id: int) -> str:
    """Generate and publish one queued bulletin; idempotent (a published or running one is left alone)."""
    now = timezone.now()
    claimed = Bulletin.objects.filter(pk=bulletin_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, progress=5, error="")
    if not claimed:
        claimed = Bulletin.objects.filter(pk=bulletin_id, status=Status.RUNNING, started_at__lt=now - STALE_AFTER
                                          ).update(started_at=now, progress=5, error="")
    if not claimed:
        return "skipped"
    bulletin = Bulletin.objects.select_related("programme", "template").get(pk=bulletin_id)
    try:
        docx, pdf, figures = _documents(bulletin, started_at=now)
    except Exception as exc:  # recorded on the bulletin for the office to see; asking again retries
        logger.exception("bulletin %s: generation failed", bulletin_id)
        Bulletin.objects.filter(pk=bulletin_id, status=Status.RUNNING, started_at=now).update(
            status=Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000])
        return "failed"
    return _publish(bulletin, started_at=now, docx=docx, pdf=pdf, figures=figures)


def _progress(bulletin: Bulletin, started_at: dt.datetime, percent: int) -> None:
    Bulletin.objects.filter(pk=bulletin.pk, status=Status.RUNNING, started_at=started_at).update(progress=percent)


def _documents(bulletin: Bulletin, *, started_at: dt.datetime) -> tuple[bytes, bytes, dict]:
    from pilots.services.bulletins.document import docx_to_pdf, render_docx
    from pilots.services.bulletins.figures import bulletin_figures, figures_exist
    from pilots.services.completion import completion_recompute_all

    if not figures_exist(programme=bulletin.programme, as_of=bulletin.as_of, real_only=bulletin.real_only):
        completion_recompute_all(as_of=bulletin.as_of)  # figures are computable as of any past date
    _progress(bulletin, started_at, 25)
    figures = bulletin_figures(programme=bulletin.programme, period=Period.parse(bulletin.period),
                               as_of=bulletin.as_of, real_only=bulletin.real_only)
    _progress(bulletin, started_at, 40)
    template = bulletin.template.file.read() if bulletin.template and bulletin.template.file else None
    docx = render_docx(figures=figures, bulletin=bulletin, template_bytes=template)
    _progress(bulletin, started_at, 60)
    pdf = docx_to_pdf(docx)
    _progress(bulletin, started_at, 90)
    return docx, pdf, figures


def _file_name(bulletin: Bulletin, extension: str) -> str:
    return f"bulletin-{bulletin.programme.code}-{bulletin.period}-r{bulletin.revision}.{extension}"


def _publish(bulletin: Bulletin, *, started_at: dt.datetime, docx: bytes, pdf: bytes, figures: dict) -> str:
    from pilots.services.webhooks import webhook_event_enqueue

    docx_name = bulletin.docx.storage.save(bulletin.docx.field.generate_filename(bulletin, _file_name(bulletin, "docx")),
                                           ContentFile(docx))
    pdf_name = bulletin.pdf.storage.save(bulletin.pdf.field.generate_filename(bulletin, _file_name(bulletin, "pdf")),
                                         ContentFile(pdf))
    with transaction.atomic():
        published = Bulletin.objects.filter(pk=bulletin.pk, status=Status.RUNNING, started_at=started_at).update(
            status=Status.PUBLISHED, progress=100, published_at=timezone.now(), docx=docx_name, pdf=pdf_name,
            figures=figures, includes_demo=figures["includes_demo"])
        if not published:  # a later run took over: its files stand, these go
            transaction.on_commit(lambda: (bulletin.docx.storage.delete(docx_name),
                                           bulletin.pdf.storage.delete(pdf_name)))
            return "superseded"
        bulletin.refresh_from_db()
        webhook_event_enqueue(event=WebhookEvent.BULLETIN_PUBLISHED, ref=bulletin_payload(bulletin))
    return "published"


def bulletin_payload(bulletin: Bulletin) -> dict:
    """The ``bulletin.published`` event's data, built when it is published."""
    return {
        "bulletin": bulletin.pk, "programme": bulletin.programme.code, "period": bulletin.period,
        "kind": bulletin.kind, "revision": bulletin.revision, "as_of": bulletin.as_of.isoformat(),
        "real_only": bulletin.real_only, "includes_demo": bulletin.includes_demo,
        "document_number": bulletin.document_number,
        "published_at": timezone.localtime(bulletin.published_at).isoformat(),
        "recipients": sorted(bulletin.recipients.values_list("code", flat=True)),
        "url": bulletin_api(bulletin.pk), "docx_url": bulletin_api(bulletin.pk, "docx/"),
        "pdf_url": bulletin_api(bulletin.pk, "pdf/"),
    }


def bulletin_publish_day(*, programme: Programme, period: Period) -> dt.date:
    """The day the schedule requests ``period``'s bulletin: working days after the reporting deadline."""
    deadline = period.deadline(programme.report_due_days).date
    return add_working_days(deadline, settings.BULLETIN_WORKING_DAYS_AFTER_DEADLINE)


def bulletin_schedule_due(*, today: dt.date | None = None) -> dict[str, int]:
    """Request the last quarter's bulletin of each programme with pilots once its day has come; idempotent."""
    today = today or timezone.localdate()
    period = Period.containing(today).previous()
    requested = 0
    for programme in Programme.objects.filter(pk__in=Pilot.objects.values("programme")).order_by("pk"):
        day = bulletin_publish_day(programme=programme, period=period)
        if today < day:
            continue
        _bulletin, created = bulletin_request(programme=programme, period=period, as_of=day,
                                              trigger=Bulletin.Trigger.SCHEDULE, context=ChangeContext.system(),
                                              today=today)
        requested += created
    return {"bulletins_requested": requested}
