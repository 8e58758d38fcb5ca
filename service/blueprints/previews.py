"""Serving a stored object inline, behind the staff or clinic session: the case file's
and the referral page's <img> and <iframe>. Store links force a download
(`Content-Disposition: attachment`) and S3's would need the page to trust the bucket's
origin, so these bytes come through the app."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from flask import Response, abort

from service.models import DerivedFile
from storage import Storage, content_disposition

CHUNK: Final = 256 * 1024


def inline_object(storage: Storage, key: str, *, filename: str, content_type: str, size: int) -> Response:
    """The object's bytes for the browser to show, never to run: images get a CSP
    that allows nothing, PDFs one that lets the browser's own viewer work, framed by us only."""
    try:
        stream = storage.open(key)
    except FileNotFoundError:
        abort(404)

    def chunks() -> Iterator[bytes]:
        with stream:
            while block := stream.read(CHUNK):
                yield block

    response = Response(chunks(), mimetype=content_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = content_disposition(filename).replace("attachment", "inline", 1)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if content_type == "application/pdf":
        # Framed by the case file only; no other directive, so the browser's PDF viewer
        # (a plugin, which `object-src` would block) runs.
        response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        # Shown by <img>, never framed, never run.
        response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    return response


def inline(storage: Storage, row: DerivedFile) -> Response:
    """A worker-made preview (`DerivedFile`, JPEG)."""
    if row.storage_key is None:
        abort(404)
    return inline_object(storage, row.storage_key, filename="preview.jpg",
                         content_type=row.content_type or "image/jpeg", size=row.size or 0)
