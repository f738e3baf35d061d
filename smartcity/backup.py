"""Backups that restore: the database and the evidence files in one directory, with a manifest to check.

A backup directory holds:

- ``database.dump``: ``pg_dump --format=custom`` of the database (one transaction, so one consistent
  snapshot), or on SQLite ``database.sqlite3``, a consistent copy through sqlite3's backup API;
- ``media.tar``: everything under ``MEDIA_ROOT`` (the evidence files), archived *after* the database
  dump, so every attachment row in the dump has its file (files are written before their row commits);
- ``manifest.json``: when, from what (versions, the last migration of each app), and each part's size
  and SHA-256; ``backup_restore`` refuses a backup whose parts do not match it.

``pg_dump``/``pg_restore`` must be at least the server's major version: they are looked for in
``--pg-bin``, then ``/usr/lib/postgresql/<server major>/bin`` (Debian's layout), then ``PATH``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import tarfile
from importlib import metadata
from pathlib import Path

import django
from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

MANIFEST = "manifest.json"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
MEDIA_FILE = "media.tar"
FORMAT = 1


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


# --- Backup -----------------------------------------------------------------------------------------

def backup_create(*, dest: Path, media_root: Path | None = None, pg_bin: str | None = None) -> dict:
    """Write a backup of the default database and ``media_root`` into the new or empty directory ``dest``."""
    dest = Path(dest)
    media_root = Path(media_root or settings.MEDIA_ROOT)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty; back up into a new directory.")
    dest.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "database": connection.vendor,
        "versions": _versions(),
        "migrations": _last_migrations(),
        "parts": {},
    }
    if connection.vendor == "postgresql":
        manifest["versions"]["postgresql_server"] = _server_version_text()
        pg_dump = find_pg_tool("pg_dump", pg_bin=pg_bin)
        manifest["versions"]["pg_dump"] = _tool_version_text(pg_dump)
        _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={dest / PG_DUMP_FILE}",
              *_pg_connection_args()], what="pg_dump")
        database_file = PG_DUMP_FILE
    elif connection.vendor == "sqlite":
        # Its own connection: the backup API waits forever on a source connection inside a write transaction.
        source = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
        target = sqlite3.connect(dest / SQLITE_FILE)
        try:
            source.backup(target)  # a consistent copy of what is committed, even while others write
        finally:
            source.close()
            target.close()
        database_file = SQLITE_FILE
    else:
        raise BackupError(f"backing up a {connection.vendor} database is not supported")
    with tarfile.open(dest / MEDIA_FILE, "w") as archive:
        if media_root.is_dir():
            for path in sorted(media_root.rglob("*")):
                archive.add(path, arcname=str(path.relative_to(media_root)), recursive=False)
    for name in (database_file, MEDIA_FILE):
        manifest["parts"][name] = {"bytes": (dest / name).stat().st_size, "sha256": _sha256(dest / name)}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


# --- Restore ----------------------------------------------------------------------------------------

def backup_restore(*, src: Path, media_root: Path | None = None, force: bool = False,
                   pg_bin: str | None = None) -> dict:
    """Restore the backup in ``src`` into the default database and ``media_root``.

    Refuses a database that has tables, or a media root that has files, unless ``force``: then the
    database's objects are dropped and recreated from the dump, and the files are written over.
    """
    src = Path(src)
    media_root = Path(media_root or settings.MEDIA_ROOT)
    manifest = backup_verify(src=src)
    if manifest["database"] != connection.vendor:
        raise BackupError(f"this backup is of a {manifest['database']} database; DATABASE_URL is {connection.vendor}")
    if not force:
        tables = connection.introspection.table_names()
        if tables:
            raise BackupError(
                f"database {connection.settings_dict['NAME']!r} is not empty ({len(tables)} tables); restore into "
                "a new empty database, or pass --force to replace its contents")
        if media_root.is_dir() and any(media_root.iterdir()):
            raise BackupError(f"media root {media_root} is not empty; use an empty one, or pass --force")
    if connection.vendor == "postgresql":
        pg_restore = find_pg_tool("pg_restore", pg_bin=pg_bin)
        clean = ["--clean", "--if-exists"] if force else []
        connection.close()  # nothing of ours holds a lock on what is being replaced
        _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", *clean,
              *_pg_connection_args(), str(src / PG_DUMP_FILE)], what="pg_restore")
    else:
        connection.close()
        source = sqlite3.connect(src / SQLITE_FILE)
        target = sqlite3.connect(connection.settings_dict["NAME"])
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(src / MEDIA_FILE) as archive:
        archive.extractall(media_root, filter="data")  # no absolute paths, no "..", no devices
    return manifest


def backup_verify(*, src: Path) -> dict:
    """The manifest of the backup in ``src``, once every part it lists is there with its SHA-256."""
    try:
        manifest = json.loads((Path(src) / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} has no readable {MANIFEST}: {exc}") from exc
    for name, part in manifest.get("parts", {}).items():
        path = Path(src) / name
        if not path.is_file():
            raise BackupError(f"{path} is missing")
        if _sha256(path) != part["sha256"]:
            raise BackupError(f"{path} does not match the manifest's sha256: the backup is damaged")
    return manifest


# --- PostgreSQL tools -------------------------------------------------------------------------------

def find_pg_tool(name: str, *, pg_bin: str | None = None) -> str:
    """The path of ``pg_dump``/``pg_restore`` new enough for the server, or a BackupError saying what to install."""
    major = _server_major()
    candidates = []
    if pg_bin:
        candidates.append(Path(pg_bin) / name)
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin") / name)
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    seen = []
    for candidate in candidates:
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        tool_major = _tool_major(str(candidate))
        seen.append(f"{candidate} ({tool_major})")
        if tool_major is not None and tool_major >= major:
            return str(candidate)
    found = f" (found only: {', '.join(seen)})" if seen else ""
    raise BackupError(
        f"{name} for PostgreSQL {major} or newer was not found{found}; install postgresql-client-{major} "
        f"(Debian) or pass --pg-bin with the directory holding {name}")


def _server_major() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


def _server_version_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def _tool_version_text(tool: str) -> str:
    result = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30, check=False)
    return result.stdout.strip()


def _tool_major(tool: str) -> int | None:
    match = re.search(r"\s(\d+)(?:\.\d+)?", _tool_version_text(tool))
    return int(match.group(1)) if match else None


def _pg_connection_args() -> list[str]:
    params = connection.settings_dict
    args = []
    if params.get("HOST"):
        args.append(f"--host={params['HOST']}")
    if params.get("PORT"):
        args.append(f"--port={params['PORT']}")
    if params.get("USER"):
        args.append(f"--username={params['USER']}")
    args.append("--no-password")  # a password comes from PGPASSWORD (set by _run), never a prompt
    args.append(f"--dbname={params['NAME']}")
    return args


def _run(args: list[str], *, what: str) -> None:
    env = dict(os.environ)
    if connection.settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = connection.settings_dict["PASSWORD"]
    result = subprocess.run(args, capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


# --- Manifest details -------------------------------------------------------------------------------

def _versions() -> dict:
    try:
        application = metadata.version("smartcity-tracker")
    except metadata.PackageNotFoundError:
        application = "unknown"
    return {"smartcity_tracker": application, "django": django.get_version(), "python": platform.python_version()}


def _last_migrations() -> dict:
    applied = MigrationRecorder(connection).applied_migrations()
    last = {}
    for app, name in sorted(applied):
        last[app] = name
    return last


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
