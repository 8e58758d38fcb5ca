"""Reading form bodies so that a refused one says which limit it broke.

Werkzeug raises one bare `RequestEntityTooLarge` for every limit (too many parts, a text
part too long, a streamed body past MAX_CONTENT_LENGTH), so the error page could only
guess. This parser raises its own exception for each: it counts the parts itself (a file
part when it starts, a text part when it ends, so a text part is held to
MAX_FORM_MEMORY_SIZE meanwhile), tells Werkzeug's body-length error from its text-part
error by where it comes from (reading the body, or parsing it), and holds urlencoded
bodies, which Werkzeug does not limit, to the same two limits. A Content-Length over
MAX_CONTENT_LENGTH is refused before any parser runs, with Werkzeug's bare exception;
a file over MAX_FILE_BYTES is the form's to refuse (`forms.files`), naming the file.
"""
from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING, Any, cast

from flask import Request as FlaskRequest
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.sansio.multipart import File

if TYPE_CHECKING:
    from werkzeug.formparser import t_parse_result


class TooManyFields(BadRequest):
    """More form parts (fields and files) than MAX_FORM_PARTS. 400, not 413: a body with
    thousands of tiny fields may be small, and no form of ours has that many fields, so
    the request is malformed rather than too large; sending less of it would not help."""

    description = "The form has more fields and files than the service accepts."


class FieldTooLong(RequestEntityTooLarge):
    """One text part longer than MAX_FORM_MEMORY_SIZE."""

    description = "A text field is longer than the service accepts."


class BodyTooLarge(RequestEntityTooLarge):
    """A body sent without Content-Length that ran past MAX_CONTENT_LENGTH."""


class _Body:
    """The body stream, whose read turns Werkzeug's error for a streamed body past
    MAX_CONTENT_LENGTH into `BodyTooLarge`, before a parser can mistake it for its own."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except RequestEntityTooLarge as exc:
            raise BodyTooLarge() from exc


class _CountingMultiPartParser(MultiPartParser):
    """Werkzeug's multipart parser with the part limit counted here, so that breaking it
    raises `TooManyFields`; Werkzeug's own count is off (it raises the bare 413)."""

    def __init__(self, *, max_parts: int | None, **kwargs: Any) -> None:
        super().__init__(max_form_parts=None, **kwargs)
        self._max_parts = max_parts
        self._parts = 0

    def _count(self) -> None:
        self._parts += 1
        if self._max_parts is not None and self._parts > self._max_parts:
            raise TooManyFields()

    def start_file_streaming(self, event: File, total_content_length: int | None) -> IO[bytes]:
        self._count()
        return super().start_file_streaming(event, total_content_length)

    def get_part_charset(self, headers: Headers) -> str:
        """Called once for each text part, when it is complete."""
        self._count()
        return super().get_part_charset(headers)


class FormParser(FormDataParser):
    def parse(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str] | None = None
    ) -> t_parse_result:
        body = cast(IO[bytes], _Body(stream))
        if mimetype == "multipart/form-data":
            return self._multipart(stream, body, content_length, options or {})
        if mimetype == "application/x-www-form-urlencoded":
            data = body.read()  # read whole, as Werkzeug does
            self._check_urlencoded(data)
            return super().parse(io.BytesIO(data), mimetype, content_length, options)
        return super().parse(stream, mimetype, content_length, options)

    def _multipart(
        self, stream: IO[bytes], body: IO[bytes], content_length: int | None, options: dict[str, str]
    ) -> t_parse_result:
        """Werkzeug's multipart branch (a malformed body reads as an empty form, unless
        the parser is not silent), with the parser above and each limit named."""
        parser = _CountingMultiPartParser(
            max_parts=self.max_form_parts, stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size, cls=self.cls,
        )
        try:
            boundary = options.get("boundary", "").encode("ascii")
            if not boundary:
                raise ValueError("Missing boundary")
            form, files = parser.parse(body, boundary, content_length)
        except ValueError:
            if not self.silent:
                raise
            return stream, self.cls(), self.cls()
        except BodyTooLarge:
            raise
        except RequestEntityTooLarge as exc:
            # The parts are counted here, so this is the one limit left to Werkzeug's parser.
            raise FieldTooLong() from exc
        return stream, form, files

    def _check_urlencoded(self, data: bytes) -> None:
        """The multipart limits, for a body Werkzeug would take whole: fields are counted
        by their separators, and each is measured as sent (percent-encoded)."""
        if self.max_form_parts is not None and data.count(b"&") >= self.max_form_parts:
            raise TooManyFields()
        if self.max_form_memory_size is not None and max(map(len, data.split(b"&"))) > self.max_form_memory_size:
            raise FieldTooLong()


class Request(FlaskRequest):
    """The app's request: Flask's, with the form parser above."""

    form_data_parser_class = FormParser
