"""``manage.py backup DEST``: the database and the evidence files, with a manifest (see smartcity.backup)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from smartcity.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database (pg_dump, custom format) and MEDIA_ROOT into the new or empty directory DEST."

    def add_arguments(self, parser):
        parser.add_argument("dest", type=Path, help="a new or empty directory")
        parser.add_argument("--media-root", type=Path, default=None, help="default: MEDIA_ROOT")
        parser.add_argument("--pg-bin", default=None, help="directory holding pg_dump (default: found automatically)")

    def handle(self, *args, dest, media_root, pg_bin, **options):
        try:
            manifest = backup_create(dest=dest, media_root=media_root, pg_bin=pg_bin)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for name, part in manifest["parts"].items():
            self.stdout.write(f"{dest / name}: {part['bytes']} bytes, sha256 {part['sha256']}")
        self.stdout.write(self.style.SUCCESS(f"backup written to {dest}"))
