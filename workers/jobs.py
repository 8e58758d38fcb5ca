"""Every background job, as a plain function taking ids, and the registry that maps
outbox job names to them and to their queue. Jobs are thin: the work itself lives
in `service` (routing, paperwork, notifications). They run inside `outbox.execute`,
which commits their effects together with the row's "done" mark."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from service.cases import referrals
from service.extensions import db
from service.models import Case
from workers import outbox, queues


def route_case(case_id: int) -> None:
    case = db.session.get(Case, case_id)
    if case is None:
        return
    outcome = referrals.route(case, current_app.config["ROUTING_TOP_N"])
    for referral in outcome.referrals:
        outbox.record("render_dossier", case_id=case.id, referral_id=referral.id)


@dataclass(frozen=True)
class JobSpec:
    func: Callable[..., None]
    queue: str


JOBS: dict[str, JobSpec] = {
    "route_case": JobSpec(route_case, queues.ROUTING),
}
