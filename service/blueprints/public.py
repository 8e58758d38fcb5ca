"""The landing page and a health check."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import text

from service.catalog import queries
from service.extensions import db

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    return render_template("index.html", grouped=queries.categories())


@bp.get("/healthz")
def health() -> tuple[dict[str, str], int]:
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}, 200
