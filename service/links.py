"""Links for e-mails and PDFs made outside a request (jobs, CLI): built from the route
map at `BASE_URL`, so a link follows the routes and the deployment's address (scheme,
host, port and any path prefix) instead of a path written out by hand."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of `endpoint` at `BASE_URL`, as `url_for(..., _external=True)`
    would give it in a request to that address (values quoted, None values left out)."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    present = {name: value for name, value in values.items() if value is not None}
    return adapter.build(endpoint, present, force_external=True)
