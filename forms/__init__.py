"""WTForms for every form the service accepts."""
from forms.files import AddFilesForm
from forms.request import RequestForm

__all__ = ["AddFilesForm", "RequestForm"]
