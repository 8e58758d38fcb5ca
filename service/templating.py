"""What every template can read: the limits (from the one definition), formatting."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from service import limits
from service.cases.events import describe
from service.catalog.loader import CATEGORIES
from service.uploads import human_size


def _context() -> dict[str, Any]:
    return {
        "max_files": current_app.config["MAX_FILES"],
        "max_file_bytes": current_app.config["MAX_FILE_BYTES"],
        "accepted_labels": limits.accepted_labels(),
        "accept_attribute": limits.ACCEPT_ATTRIBUTE,
        "categories": CATEGORIES,
    }


def init_app(app: Flask) -> None:
    from service.accounts.nav import staff_nav

    app.context_processor(_context)
    app.jinja_env.globals["staff_nav"] = staff_nav
    app.add_template_filter(human_size, "filesize")
    app.add_template_filter(describe, "describe_event")
    app.add_template_filter(lambda event: describe(event, staff=True), "describe_staff_event")
    app.add_template_filter(lambda dt: dt.strftime("%d %b %Y, %H:%M UTC"), "when")
