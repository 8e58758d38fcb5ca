"""The landing page, the pages that say who we are and what we do with a patient's data
(privacy notice, contact, imprint; their facts from `service.trust`), and a health check."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from sqlalchemy import text
from werkzeug.wrappers import Response

from service import i18n, trust
from service.catalog import snapshot
from service.extensions import db

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    i18n.use_page_language()
    return render_template("index.html", grouped=snapshot.current().categories())


@bp.get("/privacy")
def privacy() -> str:
    i18n.use_page_language()
    return render_template("trust/privacy.html", agency=trust.agency(), consent=trust.consent())


@bp.get("/contact")
def contact() -> str:
    i18n.use_page_language()
    return render_template("trust/contact.html", agency=trust.agency())


@bp.get("/imprint")
def imprint() -> str:
    i18n.use_page_language()
    return render_template("trust/imprint.html", agency=trust.agency())


@bp.get("/healthz")
def health() -> tuple[dict[str, str], int]:
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}, 200


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page links; answer with the SVG."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
