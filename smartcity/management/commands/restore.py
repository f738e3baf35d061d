"""``manage.py restore SRC``: bring a backup back into an empty database and media root (see smartcity.backup)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from smartcity.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = ("Restore a backup made by `backup` into the database of DATABASE_URL and MEDIA_ROOT; both must be "
            "empty unless --force.")

    def add_arguments(self, parser):
        parser.add_argument("src", type=Path, help="a directory written by `manage.py backup`")
        parser.add_argument("--media-root", type=Path, default=None, help="default: MEDIA_ROOT")
        parser.add_argument("--force", action="store_true",
                            help="replace the contents of a non-empty database and write over existing files")
        parser.add_argument("--pg-bin", default=None, help="directory holding pg_restore (default: found automatically)")

    def handle(self, *args, src, media_root, force, pg_bin, **options):
        try:
            manifest = backup_restore(src=src, media_root=media_root, force=force, pg_bin=pg_bin)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"restored the backup of {manifest['created_at']} from {src}"))
