"""Serves the local file store's signed, expiring download links (`/files/<token>`).
S3 deployments never reach this: their links point at S3 itself.

Every file leaves as an attachment (never rendered by the browser) with a header-safe
name (RFC 5987 `filename*`) and the type detected from its bytes at intake, which the
link carries; `X-Content-Type-Options: nosniff` comes with every response
(`service.security`)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, send_file

from service import i18n
from service.i18n import gettext
from service.store import get_storage
from storage import BadSignature, FileStore, content_disposition

bp = Blueprint("downloads", __name__)


def _expired() -> tuple[str, int]:
    """Links are handed to patients too: the refusal speaks their language."""
    i18n.use_page_language(switch=False)
    return render_template(
        "errors/error.html", code=410, title=gettext("This download link has expired"),
        detail=gettext("Download links work for a few minutes only. Open the page you came from "
                       "again and follow the link there for a fresh one."),
    ), 410


@bp.get("/files/<token>")
def serve(token: str) -> Response | tuple[str, int]:
    store = get_storage()
    if not isinstance(store, FileStore):
        abort(404)
    try:
        key, filename, content_type = store.read_token(token)
    except BadSignature:  # SignatureExpired is a BadSignature too; forged or tampered alike
        return _expired()
    try:
        stream = store.open(key)
    except FileNotFoundError:
        abort(404)
    response = send_file(stream, mimetype=content_type, max_age=0, conditional=False)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response
