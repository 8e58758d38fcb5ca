"""Finding a case from its private status token."""
from __future__ import annotations

from hmac import compare_digest

from sqlalchemy import select

from service.cases.tokens import hash_token
from service.extensions import db
from service.models import Case

TOKEN_MAX_CHARS = 128


def case_for_token(token: str, *, for_update: bool = False) -> Case | None:
    """The case this token opens, or None. The row is locked when about to change it."""
    if not token or len(token) > TOKEN_MAX_CHARS:
        return None
    digest = hash_token(token)
    query = select(Case).where(Case.token_hash == digest)
    if for_update:
        query = query.with_for_update()
    case = db.session.scalars(query).first()
    if case is None or not compare_digest(case.token_hash, digest):
        return None
    return case
