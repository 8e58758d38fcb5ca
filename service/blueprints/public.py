"""The landing page and a health check."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from sqlalchemy import text
from werkzeug.wrappers import Response

from service import i18n
from service.catalog import snapshot
from service.extensions import db

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    i18n.use_page_language()
    return render_template("index.html", grouped=snapshot.current().categories())


@bp.get("/healthz")
def health() -> tuple[dict[str, str], int]:
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}, 200


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page links; answer with the SVG."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
