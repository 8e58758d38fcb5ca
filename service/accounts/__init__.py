"""Staff accounts: roles, password hashing, sessions and the guard every staff view uses."""
from service.accounts.guard import current_staff, login_manager, staff_required
from service.accounts.roles import ADMIN, COORDINATOR, ROLES

__all__ = ["ADMIN", "COORDINATOR", "ROLES", "current_staff", "login_manager", "staff_required"]
