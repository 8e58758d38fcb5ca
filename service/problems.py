"""RFC 9457 problem details for the JSON API."""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify

PROBLEM_TYPE = "application/problem+json"


def problem(
    status: int, title: str, detail: str | None = None, *, errors: dict[str, list[str]] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    return response
