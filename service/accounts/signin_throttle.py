"""Per-client-IP limit on sign-in attempts, on top of the per-account lockout in `signin`:
one address cannot try many accounts. Only failed attempts count, so an office behind one
address signing in every morning is never refused. The limiter itself (storage, Redis
fallback, the switch) is the app's one limiter in `service.throttling`."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from flask import Flask, g
from werkzeug.wrappers import Response

from service.throttling import limit_posts

# Failed sign-in attempts one client address may make (the sign-in and code steps share it).
IP_LIMIT: Final = "20 per 15 minutes"
_SCOPE: Final = "staff-signin"
_FAILED: Final = "staff_signin_failed"


def count_failure() -> None:
    """Mark this request as a failed attempt, deducted from the client's allowance."""
    g.setdefault(_FAILED, True)


def _failed(_response: Response) -> bool:
    return bool(g.get(_FAILED))


def _forget_failure(_exc: BaseException | None) -> None:
    """`g` outlives the request when an app context is shared (tests); the mark must not."""
    g.pop(_FAILED, None)


def init_app(app: Flask, endpoints: Iterable[str]) -> None:
    """Limit failed POSTs to `endpoints` (already registered) by client address."""
    app.teardown_request(_forget_failure)
    limit_posts(app, IP_LIMIT, _SCOPE, endpoints, deduct_when=_failed)
