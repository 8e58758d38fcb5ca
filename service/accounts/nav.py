"""The staff console's navigation, defined once; the layout shows the entries whose
route exists and whose role the signed-in user has."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flask import current_app
from flask_login import current_user

from service.accounts.roles import ADMIN, COORDINATOR, GRANTS


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    role: str


NAV: Final = (
    NavItem("Cases", "staff_queue.index", COORDINATOR),
    NavItem("Dashboard", "staff_dashboard.index", COORDINATOR),
    NavItem("Catalogue", "staff_catalog.index", ADMIN),
    NavItem("Reply templates", "staff_templates.index", ADMIN),
    NavItem("Users", "staff_auth.users", ADMIN),
)


def staff_nav() -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    role = current_user.user.role
    return [
        item for item in NAV
        if item.endpoint in current_app.view_functions and role in GRANTS[item.role]
    ]
