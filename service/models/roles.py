"""Roles, defined once beside the `User` model whose `role` column holds them: admins manage users and the catalogue, coordinators run cases
(admins can do everything a coordinator can), clinic users answer their clinic's
referrals in the clinic portal and nothing else."""
from __future__ import annotations

from typing import Final

ADMIN: Final = "admin"
COORDINATOR: Final = "coordinator"
CLINIC: Final = "clinic"
# Roles of the agency's own staff (the staff console).
STAFF_ROLES: Final = (COORDINATOR, ADMIN)
ROLES: Final = (COORDINATOR, ADMIN, CLINIC)
# Who may use what: a coordinator route admits both staff roles, an admin route only
# admins, a clinic route only clinic users.
GRANTS: Final[dict[str, frozenset[str]]] = {
    COORDINATOR: frozenset({COORDINATOR, ADMIN}),
    ADMIN: frozenset({ADMIN}),
    CLINIC: frozenset({CLINIC}),
}
