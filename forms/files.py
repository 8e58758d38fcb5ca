"""The file batch shared by the request form and the status page's "add files" form:
count, then each file's size and type, each error naming the file and the rule."""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from werkzeug.datastructures import FileStorage
from wtforms import ValidationError

from service import uploads
from service.i18n import gettext, lazy_gettext
from service.uploads import FileProblem, IncomingFile


def picked_files(data: list[FileStorage] | None) -> list[FileStorage]:
    """Browsers send one empty part when nothing is picked; ignore those."""
    return [f for f in (data or []) if isinstance(f, FileStorage) and f.filename]


class FileBatchMixin:
    """Validates `files` against the remaining allowance (`already_attached`: the files
    the case has already); keeps what passed."""

    already_attached: int = 0
    accepted_files: list[IncomingFile]
    file_problems: list[FileProblem]

    def __init__(self, *args: Any, already_attached: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.already_attached = already_attached
        self.accepted_files = []
        self.file_problems = []

    def validate_files(self, field: MultipleFileField) -> None:
        self.accepted_files = []
        self.file_problems = []
        files = picked_files(field.data)
        max_files = current_app.config["MAX_FILES"]
        too_many = uploads.count_problem(len(files), self.already_attached, max_files)
        if too_many:
            self.file_problems.append(too_many)
        else:
            max_bytes = current_app.config["MAX_FILE_BYTES"]
            for upload in files:
                checked = uploads.inspect(upload.filename, upload.stream, max_bytes)
                if isinstance(checked, FileProblem):
                    self.file_problems.append(checked)
                else:
                    self.accepted_files.append(checked)
        # Every problem at once, each naming its file, rather than one per round trip.
        field.errors.extend(p.message for p in self.file_problems)

    def files_required(self, field: MultipleFileField) -> None:
        if not picked_files(field.data):
            raise ValidationError(gettext("Choose at least one file to add."))


class AddFilesForm(FileBatchMixin, FlaskForm):
    files = MultipleFileField(lazy_gettext("Files to add"))

    def validate_files(self, field: MultipleFileField) -> None:
        self.files_required(field)
        super().validate_files(field)
