"""The roles under the accounts package's name for them; defined beside the `User` model
(`service.models.roles`), which the case domain below the accounts imports directly."""
from service.models.roles import ADMIN, CLINIC, COORDINATOR, GRANTS, ROLES, STAFF_ROLES

__all__ = ["ADMIN", "CLINIC", "COORDINATOR", "GRANTS", "ROLES", "STAFF_ROLES"]
