"""Serves the local file store's signed, expiring download links (`/files/<token>`).
S3 deployments never reach this: their links point at S3 itself."""
from __future__ import annotations

from flask import Blueprint, Response, abort, send_file

from service.store import get_storage
from storage import BadSignature, FileStore, content_disposition

bp = Blueprint("downloads", __name__)


@bp.get("/files/<token>")
def serve(token: str) -> Response:
    store = get_storage()
    if not isinstance(store, FileStore):
        abort(404)
    try:
        key, filename, content_type = store.read_token(token)
    except BadSignature:  # SignatureExpired is a BadSignature too
        abort(410, "This download link has expired or is not valid. Open the page again for a fresh link.")
    try:
        stream = store.open(key)
    except FileNotFoundError:
        abort(404)
    response = send_file(stream, mimetype=content_type, max_age=0, conditional=False)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response
