"""Per-client-address rate limits (Flask-Limiter on the app's Redis): the one limiter of an
app, the submission limit on the request form and the API, and the 429 answer with
`Retry-After`. The sign-in limit (failed attempts only) is `service.accounts.signin_throttle`.

Each app gets its own `Limiter`: the storage is per app (Redis in normal runs, memory in
tests), and a module-wide limiter would share whichever storage was configured last.
If Redis is unreachable the limiter counts in process memory instead (per worker, so
looser) rather than refusing every patient."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Final

from flask import Flask, current_app, render_template, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.wrappers import Response

from service import i18n
from service.i18n import gettext, ngettext
from service.problems import problem

_EXTENSION: Final = "medtour_limiter"
# One allowance shared by the form and the API: switching channel does not reset it.
SUBMISSION_SCOPE: Final = "submissions"
# Endpoints that record a case; their POSTs count against SUBMISSION_RATE_LIMIT.
SUBMISSION_ENDPOINTS: Final = ("requests.new", "api.create_request")


def storage_uri(config: dict) -> str:
    """Memory when testing; otherwise the Redis the app already uses (limits spells a
    unix socket `redis+unix://`, redis-py `unix://`)."""
    if config.get("TESTING"):
        return "memory://"
    url: str = config["REDIS_URL"]
    return "redis+" + url if url.startswith("unix://") else url


def limiter_for(app: Flask | None = None) -> Limiter:
    return (app or current_app).extensions[_EXTENSION]


def seconds_until_reset() -> int:
    """How long the breached limit of this request still holds, in whole seconds."""
    limit = limiter_for().current_limit
    if limit is None:
        return 60
    return max(1, math.ceil(limit.window.reset_time - time.time()))


def limit_posts(app: Flask, limit: str, scope: str, endpoints: Iterable[str],
                deduct_when: Callable[[Response], bool] | None = None,
                key_func: Callable[[], str] | None = None) -> None:
    """Count POSTs to `endpoints` (already registered) against one shared `limit` per
    client address, or per whatever `key_func` names (an e-mail address's hash)."""
    limited: Callable = limiter_for(app).shared_limit(limit, scope=scope, methods=["POST"], deduct_when=deduct_when,
                                                      key_func=key_func)
    for endpoint in endpoints:
        app.view_functions[endpoint] = limited(app.view_functions[endpoint])


def _too_many(_exc: RateLimitExceeded) -> Response:
    """A patient-facing 429: problem+json on the API, a page in the patient's language elsewhere."""
    seconds = seconds_until_reset()
    headers = {"Retry-After": str(seconds)}
    if request.path.startswith("/api/"):
        response = problem(429, "Too Many Requests", (
            f"Too many requests from this address; retry after {seconds} seconds (Retry-After)."))
        response.headers.update(headers)
        return response
    i18n.use_page_language(switch=False)
    minutes = max(1, math.ceil(seconds / 60))
    detail = ngettext(
        "Too many requests were sent from your address. What you typed was not recorded; "
        "go back and send it again in %(num)d minute.",
        "Too many requests were sent from your address. What you typed was not recorded; "
        "go back and send it again in %(num)d minutes.",
        minutes,
    )
    body = render_template("errors/error.html", code=429, title=gettext("Too many requests"), detail=detail)
    return Response(body, 429, headers=headers, mimetype="text/html")


def _per_address_off() -> bool:
    """RATELIMIT_ENABLED=0 exempts every request from the per-address limits (a load test
    from one address); the limiter stays up for the per-account counters in `signin`."""
    return not current_app.config["RATELIMIT_PER_ADDRESS"]


def init_app(app: Flask) -> None:
    """The app's limiter, and the submission limit on the endpoints that record a case."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(app.config))
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "medtour")
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    if app.config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        # A Redis that does not answer must not hold up a patient's request: give up after
        # a second, once, and count in memory (redis-py would wait and retry for longer).
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {
            "socket_connect_timeout": 1, "socket_timeout": 1, "retry": Retry(NoBackoff(), 0),
        })
    submissions = app.config["SUBMISSION_RATE_LIMIT"]
    try:
        parse_many(submissions)
    except ValueError as exc:
        raise RuntimeError(f"SUBMISSION_RATE_LIMIT must read like '20 per hour', got {submissions!r}") from exc
    limiter = Limiter(key_func=get_remote_address, strategy="moving-window")
    limiter.init_app(app)
    limiter.request_filter(_per_address_off)
    app.extensions[_EXTENSION] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many)
    limit_posts(app, submissions, SUBMISSION_SCOPE, SUBMISSION_ENDPOINTS)
