"""Staff roles, defined once: admins manage users and the catalogue, coordinators run cases
(admins can do everything a coordinator can)."""
from __future__ import annotations

from typing import Final

ADMIN: Final = "admin"
COORDINATOR: Final = "coordinator"
ROLES: Final = (COORDINATOR, ADMIN)
# Who may use what: a coordinator route admits both roles, an admin route only admins.
GRANTS: Final[dict[str, frozenset[str]]] = {
    COORDINATOR: frozenset({COORDINATOR, ADMIN}),
    ADMIN: frozenset({ADMIN}),
}
