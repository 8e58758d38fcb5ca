"""One-time links for an account (clinic sign-in links, admin-sent reset links): a token
signed with SECRET_KEY under the link's own salt, so no other signed value can pass for
it, holding the user's id and a random nonce. Only the nonce's SHA-256 is kept, in a
column of the user's; a new link replaces it, using a link clears it, so only the newest
link works and only once. The kinds differ in salt, lifetime, column and wording only."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import update

from service.extensions import db
from service.models import User


class LinkRefused(Exception):
    """The link cannot be used; the message says why and what to do."""


def digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


@dataclass(frozen=True)
class OneTimeLink:
    salt: str
    ttl: timedelta
    column: str           # the User column holding the nonce's SHA-256
    expired: str          # what a refused link says when it is too old
    not_valid: str        # ... and when it was used, replaced or tampered with

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=self.salt)

    def issue(self, user: User) -> str:
        """A new token for `user`; any earlier link stops working."""
        nonce = secrets.token_urlsafe(32)
        setattr(user, self.column, digest(nonce))
        db.session.flush()
        return self._serializer().dumps({"user": user.id, "nonce": nonce})

    def claims(self, token: str) -> tuple[int, str]:
        """(user id, nonce) of a token signed by us and not expired, else LinkRefused."""
        try:
            data = self._serializer().loads(token, max_age=int(self.ttl.total_seconds()))
        except SignatureExpired as exc:
            raise LinkRefused(self.expired) from exc
        except BadSignature as exc:
            raise LinkRefused(self.not_valid) from exc
        if not isinstance(data, dict) or not isinstance(data.get("user"), int) or not isinstance(data.get("nonce"), str):
            raise LinkRefused(self.not_valid)
        return data["user"], data["nonce"]

    def matches(self, user: User | None, nonce: str) -> bool:
        """`nonce` is the newest unused link's of `user`."""
        return user is not None and secrets.compare_digest(getattr(user, self.column) or "", digest(nonce))

    def use_up(self, user_id: int, nonce: str, *conditions: Any) -> User:
        """Clear the link and return its user. The check and the clearing are one
        conditional UPDATE (with `conditions` on the account), so two requests racing
        with the same link cannot both use it."""
        column = getattr(User, self.column)
        claimed = db.session.execute(
            update(User)
            .where(User.id == user_id, column == digest(nonce), User.active.is_(True), *conditions)
            .values({self.column: None}),
            execution_options={"synchronize_session": False},
        ).rowcount
        if claimed != 1:
            raise LinkRefused(self.not_valid)
        user = db.session.get(User, user_id)
        db.session.refresh(user)
        return user
