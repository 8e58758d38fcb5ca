"""Single-use openers: the link each patient e-mail carries to the status page.

The permanent status token is stored only as its hash, so no e-mail after the first can
carry it. Each later e-mail gets an opener instead: a random secret, stored as its SHA-256
(`service.cases.tokens.hash_token`), that opens the case's status page once within
`OPENER_TTL_DAYS`. A used, expired or voided opener opens nothing; the page it shows
offers to e-mail a new one. Nothing here commits: the caller's transaction does."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from service.cases.tokens import hash_token
from service.extensions import db
from service.limits import OPENER_TTL_DAYS
from service.links import external_url
from service.models import Case, Opener

# The endpoint the link opens (service.blueprints.status_access).
ENDPOINT = "status_access.open_link"
SECRET_MAX_CHARS = 128


def _now() -> datetime:
    return datetime.now(timezone.utc)


def issue(case: Case) -> str:
    """A new opener for `case`, added to the session (not committed); the raw secret,
    which exists from here on only in the e-mail that carries it."""
    raw = secrets.token_urlsafe(32)
    now = _now()
    db.session.add(Opener(case_id=case.id, secret_hash=hash_token(raw), created_at=now,
                          expires_at=now + timedelta(days=OPENER_TTL_DAYS)))
    db.session.flush()
    return raw


def url(raw: str) -> str:
    """The absolute link (at BASE_URL) that opens the status page once."""
    return external_url(ENDPOINT, opener=raw)


def open(raw: str) -> Case | None:  # noqa: A001 - the interface's name: an opener opens
    """Use the opener up and return its case; None if unknown, used, expired, voided or
    the case is being erased. The check and the use are one conditional UPDATE, so two
    requests racing with the same link cannot both get in."""
    if not raw or len(raw) > SECRET_MAX_CHARS:
        return None
    now = _now()
    case_id = db.session.execute(
        update(Opener)
        .where(Opener.secret_hash == hash_token(raw), Opener.used_at.is_(None), Opener.expires_at > now)
        .values(used_at=now)
        .returning(Opener.case_id),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    if case_id is None:
        return None
    case = db.session.get(Case, case_id)
    if case is None or case.erasure_requested_at is not None:
        return None
    return case


def void_all(case: Case) -> int:
    """Make every unused opener of `case` useless (its status link was replaced: the old
    e-mails may have leaked with it); how many there were."""
    return db.session.execute(
        update(Opener)
        .where(Opener.case_id == case.id, Opener.used_at.is_(None))
        .values(used_at=_now()),
        execution_options={"synchronize_session": False},
    ).rowcount

