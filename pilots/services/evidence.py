"""Evidence attachments: what may be uploaded, checked by content rather than by name."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pilots.models import ProgressReport, ReportAttachment
from pilots.services.reports import EDITABLE_STATES
from smartcity.audit import ChangeContext, audit_record, snapshot
from smartcity.concurrency import lock_version
from smartcity.exceptions import InvalidTransition

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office (doc, xls, ppt)
# extension → (content type, test on the first bytes, or on the whole file for zip-based formats)
EVIDENCE_TYPES = {
    ".pdf": ("application/pdf", lambda head: head.startswith(b"%PDF-")),
    ".png": ("image/png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ".jpg": ("image/jpeg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ".jpeg": ("image/jpeg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ".doc": ("application/msword", lambda head: head.startswith(_OLE)),
    ".xls": ("application/vnd.ms-excel", lambda head: head.startswith(_OLE)),
    ".ppt": ("application/vnd.ms-powerpoint", lambda head: head.startswith(_OLE)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "word/"),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xl/"),
    ".pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "ppt/"),
}


def _is_office_zip(upload, folder: str) -> bool:
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    finally:
        upload.seek(0)
    return "[Content_Types].xml" in names and any(name.startswith(folder) for name in names)


def evidence_check(upload) -> tuple[str, str, str]:
    """Return (safe display name, extension, content type), or raise a ValidationError on ``file``."""
    name = PurePath(str(upload.name).replace("\\", "/")).name.strip()  # drop any path the client sent
    name = "".join(ch for ch in name if ch.isprintable()) or "evidence"
    extension = PurePath(name).suffix.lower()
    if extension not in EVIDENCE_TYPES:
        raise ValidationError({"file": _("Allowed types: %(types)s.") % {"types": ", ".join(sorted(EVIDENCE_TYPES))}})
    if len(name) > 200:  # shorten the stem: a long name keeps its extension
        name = name[: 200 - len(extension)] + name[len(name) - len(extension):]
    if upload.size > settings.EVIDENCE_MAX_BYTES:
        raise ValidationError({"file": _("A file may be at most %(mb)s MB.") % {
            "mb": settings.EVIDENCE_MAX_BYTES // (1024 * 1024)}})
    if upload.size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    content_type, test = EVIDENCE_TYPES[extension]
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    matches = _is_office_zip(upload, test) if isinstance(test, str) else test(head)
    if not matches:
        raise ValidationError({"file": _("The content is not a %(ext)s file.") % {"ext": extension}})
    return name, extension, content_type


def evidence_attach(*, report_id: int, upload, context: ChangeContext) -> ReportAttachment:
    """Store evidence for a draft or returned report through Django's storage (disk or object store)."""
    name, extension, content_type = evidence_check(upload)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    with transaction.atomic():
        report = lock_version(ProgressReport, report_id, None,
                              queryset=ProgressReport.objects.select_related("pilot"))
        if report.state not in EDITABLE_STATES:
            raise InvalidTransition(_("Evidence is attached to a draft or returned report; this one is %(state)s.")
                                    % {"state": report.get_state_display()})
        attachment = ReportAttachment(
            report=report, original_name=name, extension=extension, content_type=content_type,
            size=upload.size, sha256=digest.hexdigest(), uploaded_by=context.acting_user,
        )
        attachment.file.save(f"{attachment.sha256}{extension}", upload, save=False)
        attachment.save()
        # The file is written before the row: if the transaction fails, an orphan file remains, never a
        # row pointing at nothing. Orphans are harmless (content-addressed) and can be swept.
        audit_record(context=context, action="attach", instance=attachment, before=None, after=snapshot(attachment))
    return attachment
