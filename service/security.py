"""Response headers that every response carries (pages, errors, static files, the API,
downloads).

TLS is terminated in front of the app, by the reverse proxy (deploy/nginx.conf).
With PROXY_HOPS=n the app trusts the last n proxies' `X-Forwarded-For` and
`X-Forwarded-Proto` (Werkzeug's ProxyFix): the client's address (which the rate limits
count by) and scheme are then the proxy's report; with 0 (the default) they are the
connection's, so a client cannot fake either. HSTS is sent only over https: over plain
http it would be meaningless (browsers ignore it, RFC 6797 §8.1) and a deployment
without TLS must stay reachable."""
from __future__ import annotations

from typing import Final

from flask import Flask, Response, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

# No 'unsafe-inline' anywhere: every script and style is a file under /static
# (tests/service/test_security.py scans the templates for inline code).
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        response.headers.setdefault(
            "Strict-Transport-Security", f"max-age={current_app.config['HSTS_MAX_AGE']}; includeSubDomains"
        )
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    hops = app.config.get("PROXY_HOPS", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.after_request(_headers)
