"""Periodic work, declared as data: one row per chore, with how often it runs. Every
worker runs the table (`Schedule.run_due`) at start and then every `TICK_SECONDS`; each
chore runs at most once per its interval in that process. A chore that fails is logged
and tried again when next due; the others still run."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from service.cases import idempotency, patient_mail, referral_clock
from service.extensions import db
from workers import outbox, retention, uploads
from workers.periodic import Throttle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    every_seconds: float
    run: Callable[[], object]


# Relay what Redis missed and repair lost jobs; expired staged uploads; closed cases
# past RETENTION_DAYS; expired idempotency keys; the clinics' answer clocks (reminders, overdue, escalation); the
# patient's reminders of unanswered questions and of the outbound flight (7 and 1 days before).
# Only the sweep needs Redis: the others run while it is down.
PERIODIC: Final[tuple[Periodic, ...]] = (
    Periodic("outbox sweep", 15, outbox.sweep),
    Periodic("staged uploads cleanup", 60, uploads.cleanup),
    Periodic("retention", 3600, retention.apply),
    Periodic("expired idempotency keys", 3600, idempotency.delete_expired),
    Periodic("clinic answer clock", 300, referral_clock.run),
    Periodic("question reminders", 3600, patient_mail.remind_questions),
    Periodic("trip reminders", 3600, patient_mail.remind_departures),
)
# How often the worker's loop looks at the table: the shortest interval in it.
TICK_SECONDS: Final = min(entry.every_seconds for entry in PERIODIC)


class Schedule:
    """The table (`PERIODIC` unless given) with one throttle per chore, for one worker process."""

    def __init__(
        self, entries: tuple[Periodic, ...] | None = None, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.entries = PERIODIC if entries is None else entries
        self.clock = clock
        self.throttles = {entry.name: Throttle(entry.every_seconds) for entry in self.entries}

    def run_due(self) -> list[str]:
        """Run every chore whose interval has passed; the names of those that ran."""
        ran = []
        for entry in self.entries:
            if not self.throttles[entry.name].due(self.clock):
                continue
            ran.append(entry.name)
            try:
                entry.run()
            except Exception:
                db.session.rollback()
                log.exception("%s failed; will try again", entry.name)
        return ran
