"""Delete device sessions that can never be used again, in small batches (cron-safe), and the
records of exchanged simplejwt tokens that have expired."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from django_doubletoken import services
from django_doubletoken.models import DeviceSession
from django_doubletoken.services.simplejwt import purge_exchanges


class Command(BaseCommand):
    help = (
        "Delete device sessions that expired more than --expired-days ago or were revoked "
        "more than --revoked-days ago, --batch-size rows per transaction; then the records "
        "of exchanged simplejwt tokens that have expired (SIMPLEJWT_MIGRATION)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--expired-days", type=int, default=7,
                            help="keep expired sessions this many days (default 7)")
        parser.add_argument("--revoked-days", type=int, default=30,
                            help="keep revoked sessions this many days, for audit (default 30)")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--sleep", type=float, default=0.0,
                            help="seconds to pause between batches, to spare a busy database")
        parser.add_argument("--dry-run", action="store_true",
                            help="count what would be deleted, delete nothing")

    def handle(self, *args, **options) -> None:
        for name in ("expired_days", "revoked_days"):
            if options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} must be 0 or more.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        now = timezone.now()
        cutoffs = {
            "expired_before": now - timedelta(days=options["expired_days"]),
            "revoked_before": now - timedelta(days=options["revoked_days"]),
        }
        if options["dry_run"]:
            count = DeviceSession.objects.purgeable(**cutoffs).count()
            self.stdout.write(f"Would delete {count} device session(s) (dry run).")
            return
        batches = services.purge_sessions(**cutoffs, batch_size=options["batch_size"])
        total = self._run(batches, "device session(s)", options["sleep"])
        self.stdout.write(self.style.SUCCESS(f"Deleted {total} device session(s) in all."))
        spent = self._run(purge_exchanges(batch_size=options["batch_size"], now=now),
                          "expired simplejwt exchange record(s)", options["sleep"])
        if spent:
            self.stdout.write(self.style.SUCCESS(
                f"Deleted {spent} expired simplejwt exchange record(s) in all."))

    def _run(self, batches: Iterator[int], what: str, pause: float) -> int:
        total = 0
        for deleted in batches:
            total += deleted
            self.stdout.write(f"Deleted {deleted} {what} ({total} so far).")
            if pause:
                time.sleep(pause)
        return total
