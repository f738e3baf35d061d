"""``manage.py dashboard_screenshot docs/dashboard.png``: the README's picture of the dashboard.

Signs in to a running server (``make run``; ``--base-url``) as a demo user with headless Chromium and
saves the overview page as a PNG.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pilots.dashboard.browser import chromium, chromium_available, sign_in


class Command(BaseCommand):
    help = "Save a screenshot of the dashboard's overview page (needs a running server and /usr/bin/chromium)."

    def add_arguments(self, parser):
        parser.add_argument("output", nargs="?", default="docs/dashboard.png", help="PNG file to write.")
        parser.add_argument("--base-url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}",
                            help="Where the server answers (default http://127.0.0.1:$PORT).")
        parser.add_argument("--user", default="province", help="Demo user to sign in as (default province).")
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "demo-pass-2020"))
        parser.add_argument("--path", default="/dashboard/", help="Page to capture (default /dashboard/).")
        parser.add_argument("--language", default="zh-CN", help="Browser language (default zh-CN).")
        parser.add_argument("--full-page", action="store_true", help="The whole page, not the first screen.")

    def handle(self, *args, output, base_url, user, password, path, language, full_page, **options):
        if not chromium_available():
            raise CommandError("Chromium is missing: apt-get install -y chromium")
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        base_url = base_url.rstrip("/")
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1100}, locale=language, device_scale_factor=1)
            sign_in(page, base_url, user, password, next_path=path)
            page.screenshot(path=str(output), full_page=full_page)
        self.stdout.write(f"wrote {output}")
