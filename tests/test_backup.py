"""An operator backs up the service, restores it into a fresh database and media root, and finds it all there."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection

from smartcity.backup import BackupError, backup_verify, find_pg_tool
from tests.conftest import _test_database_url
from tests.factories import OrganisationFactory, PilotFactory, PrefectureFactory, SubTaskFactory, TaskFactory, member
from tests.helpers import client_for

BASE_DIR = Path(settings.BASE_DIR)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SCAN = b"%PDF-1.4\n% \xe9\xaa\x8c\xe6\x94\xb6 scan\n%%EOF\n" * 50

# What an operator checks after a restore, printed as JSON by a fresh process on DATABASE_URL/MEDIA_ROOT.
INSPECT = r"""
import hashlib, json, sys
import django
django.setup()
from django.test import Client
from pilots.models import ProgressReport, ReportAttachment
from smartcity.models import AuditEntry

authorization, report_id = sys.argv[1], sys.argv[2]
client = Client(HTTP_AUTHORIZATION=authorization)
def answer(url):
    response = client.get(url)
    return {"status": response.status_code, "body": response.json()}
attachments = []
for attachment in ReportAttachment.objects.order_by("pk"):
    with attachment.file.open("rb") as handle:
        content = handle.read()
    attachments.append({"id": attachment.pk, "name": attachment.file.name, "sha256": attachment.sha256,
                        "file_sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)})
print(json.dumps({
    "reports": list(ProgressReport.objects.order_by("pk").values_list("pk", "state", "receipt_hash")),
    "audit": [[e.pk, e.at.isoformat(), e.action, e.object_type, e.object_id, e.before, e.after]
              for e in AuditEntry.objects.order_by("pk")],
    "attachments": attachments,
    "api": {"report": answer(f"/api/v1/reports/{report_id}/"),
            "reports": answer("/api/v1/reports/"),
            "completion": answer("/api/v1/completion/prefectures/")},
}, default=str))
"""


def _manage_env(database_url: str, media_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "PYTEST_XDIST_WORKER"}}
    env.update(DJANGO_SETTINGS_MODULE="smartcity.settings", DEBUG="true", DATABASE_URL=database_url,
               MEDIA_ROOT=str(media_root))
    return env


def _python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=300, check=False, stdin=subprocess.DEVNULL)


def inspect(database_url: str, media_root: Path, authorization: str, report_id: int) -> dict:
    result = _python(["-c", INSPECT, authorization, str(report_id)], _manage_env(database_url, media_root))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def fresh_database():
    """An empty database on the same server, dropped afterwards: where the restore drill restores to."""
    import psycopg

    name = f"smartcity_restore_{uuid.uuid4().hex[:12]}"
    params = connection.settings_dict
    admin = psycopg.connect(host=params["HOST"] or None, port=params["PORT"] or None, user=params["USER"] or None,
                            password=params["PASSWORD"] or None, dbname="postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(_test_database_url())
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def filed_quarter(settings, tmp_path):
    """A prefecture office files and submits two reports with evidence; the province approves one."""
    settings.MEDIA_ROOT = tmp_path / "media"
    task = TaskFactory(code="T4")
    online = SubTaskFactory(task=task, code="T4.1", name_zh="优化“互联网+政务服务”")
    livelihood = SubTaskFactory(task=task, code="T4.2", name_zh="升级智慧民生综合应用")
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    chenghua = PilotFactory(programme=task.programme, prefecture=chengdu, code="510108", name_zh="成都市成华区")
    office = client_for(member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu)),
                        can_write=True)
    reviewer_user = member("reviewer", OrganisationFactory(code="province"))
    reviewer = client_for(reviewer_user, can_write=True)
    reports = []
    for subtask, evidence in ((online, PDF), (livelihood, SCAN)):
        created = office.post("/api/v1/reports/", {
            "pilot": chenghua.pk, "subtask": subtask.pk, "period": "2022Q4", "percent_complete": "45.0",
            "status": "on_track", "narrative": "二期平台上线。"}, format="json")
        assert created.status_code == 201, created.json()
        report = created.json()["report"]
        uploaded = office.post(f"/api/v1/reports/{report['id']}/attachments/",
                               {"file": SimpleUploadedFile("验收报告.pdf", evidence)}, format="multipart")
        assert uploaded.status_code == 201, uploaded.json()
        etag = office.get(f"/api/v1/reports/{report['id']}/")["ETag"]
        submitted = office.post(f"/api/v1/reports/{report['id']}/submit/", {}, format="json", HTTP_IF_MATCH=etag)
        assert submitted.status_code == 200, submitted.json()
        reports.append(submitted.json())
    etag = reviewer.get(f"/api/v1/reports/{reports[0]['report']['id']}/")["ETag"]
    approved = reviewer.post(f"/api/v1/reports/{reports[0]['report']['id']}/approve/", {}, format="json",
                             HTTP_IF_MATCH=etag)
    assert approved.status_code == 200, approved.json()
    return {"reports": reports, "authorization": reviewer._credentials["HTTP_AUTHORIZATION"],
            "media_root": settings.MEDIA_ROOT}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_fresh_database_and_media_root_and_the_api_answers_the_same(
        filed_quarter, fresh_database, tmp_path):
    backup_dir = tmp_path / "backup-2026-12-03"
    restored_media = tmp_path / "restored-media"

    call_command("backup", str(backup_dir))

    manifest = backup_verify(src=backup_dir)
    assert set(manifest["parts"]) == {"database.dump", "media.tar"}
    assert manifest["database"] == "postgresql" and manifest["versions"]["pg_dump"]
    assert manifest["migrations"]["pilots"] and manifest["migrations"]["smartcity"]

    env = _manage_env(fresh_database, restored_media)
    restored = _python(["manage.py", "restore", str(backup_dir)], env)
    assert restored.returncode == 0, restored.stdout + restored.stderr

    report_id = filed_quarter["reports"][0]["report"]["id"]
    before = inspect(_test_database_url(), filed_quarter["media_root"], filed_quarter["authorization"], report_id)
    after = inspect(fresh_database, restored_media, filed_quarter["authorization"], report_id)

    receipts = {r["report"]["id"]: r["receipt"]["sha256"] for r in filed_quarter["reports"]}
    assert {pk: receipt for pk, _state, receipt in after["reports"]} == receipts
    assert after["reports"] == before["reports"]
    assert len(after["audit"]) >= 6 and after["audit"] == before["audit"]
    assert sorted(a["file_sha256"] for a in after["attachments"]) == sorted(
        hashlib.sha256(content).hexdigest() for content in (PDF, SCAN))
    assert all(a["file_sha256"] == a["sha256"] for a in after["attachments"])
    assert after["attachments"] == before["attachments"]
    assert after["api"]["report"]["status"] == 200 and after["api"]["completion"]["status"] == 200
    assert after["api"] == before["api"]

    # A second restore into the now-populated database is refused, and says how to go ahead.
    again = _python(["manage.py", "restore", str(backup_dir), "--media-root", str(tmp_path / "empty")], env)
    assert again.returncode != 0 and "is not empty" in again.stderr and "--force" in again.stderr


@pytest.mark.django_db
def test_a_damaged_backup_is_refused_before_anything_is_restored(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "media" / "evidence").mkdir(parents=True)
    (tmp_path / "media" / "evidence" / "scan.pdf").write_bytes(PDF)
    call_command("backup", str(tmp_path / "backup"))
    with open(tmp_path / "backup" / "media.tar", "r+b") as archive:
        archive.seek(600)
        archive.write(b"tampered")

    with pytest.raises(BackupError, match="does not match the manifest"):
        backup_verify(src=tmp_path / "backup")
    restored = _python(["manage.py", "restore", str(tmp_path / "backup")],
                       _manage_env(_test_database_url(), tmp_path / "restored"))
    assert restored.returncode != 0 and "damaged" in restored.stderr
    assert not (tmp_path / "restored").exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_pg_dump_older_than_the_server_is_passed_over_for_one_that_matches(tmp_path):
    old = tmp_path / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(0o755)

    chosen = find_pg_tool("pg_dump", pg_bin=str(tmp_path))

    assert chosen != str(old)
    version = subprocess.run([chosen, "--version"], capture_output=True, text=True, check=True).stdout
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        server_major = int(cursor.fetchone()[0]) // 10000
    assert int(version.split()[2].split(".")[0]) >= server_major
