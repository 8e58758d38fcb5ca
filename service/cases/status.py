"""The statuses under the name the case domain has always used for them; they are
defined beside their models (`service.models.status`), which the layers below the case
domain import directly."""
from service.models.status import CaseStatus, ReferralState, ReferralStatus

__all__ = ["CaseStatus", "ReferralState", "ReferralStatus"]
