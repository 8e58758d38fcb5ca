"""Per-client-IP limit on sign-in attempts (Flask-Limiter), on top of the per-account
lockout in `signin`: one address cannot try many accounts. Only failed attempts count, so
an office behind one address signing in every morning is never refused.

Each app gets its own `Limiter`: the storage is per app (Redis in normal runs, memory in
tests), and a module-wide limiter would share whichever storage was configured last."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Final

from flask import Flask, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

# Failed sign-in attempts one client address may make (the sign-in and code steps share it).
IP_LIMIT: Final = "20 per 15 minutes"
_SCOPE: Final = "staff-signin"
_EXTENSION: Final = "staff_signin_limiter"
_FAILED: Final = "staff_signin_failed"


def storage_uri(config: dict) -> str:
    """Memory when testing; otherwise the Redis the app already uses (limits spells a
    unix socket `redis+unix://`, redis-py `unix://`)."""
    if config.get("TESTING"):
        return "memory://"
    url: str = config["REDIS_URL"]
    return "redis+" + url if url.startswith("unix://") else url


def count_failure() -> None:
    """Mark this request as a failed attempt, deducted from the client's allowance."""
    g.setdefault(_FAILED, True)


def _failed(_response: Response) -> bool:
    return bool(g.get(_FAILED))


def _forget_failure(_exc: BaseException | None) -> None:
    """`g` outlives the request when an app context is shared (tests); the mark must not."""
    g.pop(_FAILED, None)


def limiter_for(app: Flask | None = None) -> Limiter:
    return (app or current_app).extensions[_EXTENSION]


def seconds_until_reset() -> int:
    """How long the breached limit of this request still holds."""
    limit = limiter_for().current_limit
    if limit is None:
        return 60
    return max(1, math.ceil(limit.window.reset_time - time.time()))


def init_app(app: Flask, endpoints: Iterable[str]) -> None:
    """Limit POSTs to `endpoints` (already registered) by client address."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(app.config))
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "medtour")
    # If Redis is down, limit per process rather than refuse every sign-in.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter = Limiter(key_func=get_remote_address, strategy="moving-window")
    limiter.init_app(app)
    app.extensions[_EXTENSION] = limiter
    app.teardown_request(_forget_failure)
    limited: Callable = limiter.shared_limit(
        IP_LIMIT, scope=_SCOPE, methods=["POST"], deduct_when=_failed
    )
    for endpoint in endpoints:
        app.view_functions[endpoint] = limited(app.view_functions[endpoint])
