"""HTTP entry points, one module per area."""
from __future__ import annotations

from werkzeug.wrappers import Response


def private(response: Response) -> Response:
    """Health data: never cached, never leaked through a referrer (an after_request hook)."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
