"""The documents: a clinic's referral dossier, and the patient's confirmation, quote
comparison, booking summary and visa support letter.

Plain functions from content (see :mod:`service.paperwork.content`) to PDF bytes.
No Flask request, no database session, no queue: the caller passes a callable that
returns an attachment's bytes, and stores the result.

How a dossier is built:

1. Image attachments go to worker threads at once: read, check the SHA-256,
   decode, downscale (:mod:`images`). Pillow releases the GIL, so this overlaps
   everything below. A worker's preview is already such a figure and is only
   checked, not decoded again (:func:`figures.as_prepared`).
2. PDF attachments are read and prepared as exhibits (:mod:`exhibits`) here.
3. The HTML is rendered: summary, attachment index, an empty frame per image,
   a placeholder page per exhibit page. WeasyPrint lays it out in the sandbox.
4. Each downscaled image is painted into its frame and each exhibit page merged
   under its placeholder (:mod:`figures`, :mod:`exhibits`) in one pypdf pass.

If an image turns out to be undecodable (rare: the upload checks already proved
its type), the HTML is rendered once more with that file listed as "preview not
available", so the index never points at a missing figure.
"""
from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Final

from pypdf import PdfWriter

from service.files import images
from service.paperwork import exhibits, figures, wording
from service.paperwork.content import (
    NOT_PROVIDED,
    AttachmentEntry,
    BookingSummaryContent,
    ConfirmationContent,
    DossierContent,
    QuoteComparisonContent,
    country_label,
    language_label,
)
from service.paperwork.render import ENV, SandboxedFetcher, render_document, render_template

log = logging.getLogger(__name__)

# Exhibit pages appended to one dossier, at most; a PDF that would pass it is listed
# with its link instead (a clinic can download it; the dossier stays a sane size).
MAX_EXHIBIT_PAGES: Final = 300
# How the index lists a PDF with scripts or launch actions instead of appending it.
WITHHELD_ACTIVE: Final = "withheld: contains active content (scripts); open the original with care"
# Frame for one image: the full text width by this height, so two fit on a page.
FIGURE_HEIGHT_MM: Final = 105
# Threads decoding images; each holds at most one original and its decoded pixels.
IMAGE_WORKERS: Final = 2

AttachmentBytes = Callable[[AttachmentEntry], bytes]


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)

    @classmethod
    def of(cls, data: bytes, pages: int) -> RenderedPdf:
        return cls(data=data, pages=pages, sha256=hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class IndexRow:
    """How one attachment appears in the dossier."""

    entry: AttachmentEntry
    status: str                 # "exhibit", "figure", "listed" (no preview) or "failed"
    label: str | None = None    # "Exhibit 1" / "Figure 2"
    caption: str | None = None  # a disc's series figure: "Series 2 · CT · 20 images"
    anchor: str | None = None
    pages: int | None = None    # PDFs: their page count, when readable
    note: str | None = None     # "preview not available" / why it could not be included

    @property
    def link_ok(self) -> bool:
        link = self.entry.link or ""
        return link.startswith(("https://", "http://"))


@dataclass
class _Outcome:
    """What became of one attachment: a row, plus its prepared image or exhibit."""

    row: IndexRow
    image: images.PreparedImage | None = None
    exhibit: exhibits.PreparedExhibit | None = None
    future: Future | None = None  # the image job, until collected
    in_index: bool = True         # False for a disc's series figures: the disc has one row


@dataclass
class PreparedDossier:
    """The HTML of a dossier and what gets painted or merged into its rendering."""

    html: str
    outcomes: list[_Outcome]
    figures: list[tuple[str, _Outcome]] = field(default_factory=list)  # (frame id, outcome)

    @property
    def rows(self) -> list[IndexRow]:
        return [outcome.row for outcome in self.outcomes if outcome.in_index]

    @property
    def exhibits(self) -> list[exhibits.PreparedExhibit]:
        return [o.exhibit for o in self.outcomes if o.exhibit is not None]


def build_dossier_pdf(
    content: DossierContent,
    attachment_bytes: AttachmentBytes,
    *,
    fetcher: SandboxedFetcher | None = None,
) -> RenderedPdf:
    """The clinic's dossier: summary, attachment index, images as figures, PDFs as exhibits.

    ``attachment_bytes(entry)`` returns one attachment's bytes; ``entry`` is shaped like
    the ``Attachment`` (``storage_key``, ``filename``, ``content_type``, ``size``,
    ``sha256``). It is called once per PDF or decodable image (never for HEIC/DICOM),
    from worker threads for images, so it must be thread-safe (a storage backend's
    ``open(key).read()`` is). A ``FileNotFoundError`` lists the file as missing; any
    other exception (e.g. ``StorageUnavailable``) propagates so the job is retried.
    Pass ``fetcher`` to inspect what the renderer fetched or was refused.
    """
    with ThreadPoolExecutor(max_workers=IMAGE_WORKERS, thread_name_prefix="dossier-image") as pool:
        prepared = prepare_dossier(content, attachment_bytes, pool=pool)
        output = render_document(prepared.html, fetcher)
        pending = _collect(prepared)
    if pending:  # an image failed after all: list it as such and lay out again
        prepared = _render_html(content, prepared.outcomes)
        output = render_document(prepared.html, fetcher)
    data = _assemble(output, prepared)
    return RenderedPdf.of(data, output.pages)


def prepare_dossier(
    content: DossierContent,
    attachment_bytes: AttachmentBytes,
    *,
    pool: ThreadPoolExecutor | None = None,
) -> PreparedDossier:
    """Start the images (in ``pool``, or here when None), prepare the exhibits and render
    the HTML, which does not depend on the images' pixels."""
    outcomes: list[_Outcome] = []
    exhibit_pages = 0
    def figure(entry: AttachmentEntry, source: AttachmentEntry, *, caption: str | None = None,
               in_index: bool = True, preview: bool = False) -> None:
        outcome = _Outcome(IndexRow(entry, "figure", caption=caption), in_index=in_index)
        if pool is None:
            _finish_image(outcome, _image_job(source, attachment_bytes, preview))
        else:
            outcome.future = pool.submit(_image_job, source, attachment_bytes, preview)
        outcomes.append(outcome)

    for entry in content.attachments:
        if entry.withheld:
            outcomes.append(_Outcome(IndexRow(entry, "listed", note=entry.withheld)))
        elif entry.studies:
            # A disc: one row saying what it holds, then one figure per series.
            labels = "; ".join(label for label, _series in entry.studies)
            shown = sum(len(series) for _label, series in entry.studies)
            outcomes.append(_Outcome(IndexRow(
                entry, "listed", note=labels + (f"; {shown} series shown as figures" if shown else "")
            )))
            for _label, series in entry.studies:
                for caption, key, digest in series:
                    figure(entry, replace(entry, storage_key=key, sha256=digest), caption=caption, in_index=False,
                           preview=True)
        elif entry.preview_key and not entry.is_pdf:
            # The worker's preview (HEIC, DICOM, TIFF's first page, photos): never the original decoded here.
            figure(entry, replace(entry, storage_key=entry.preview_key, sha256=entry.preview_sha256), preview=True)
        elif entry.is_image:
            figure(entry, entry)
        elif entry.is_pdf and entry.active_content:
            # Its pages could be drawn without the scripts, but a clinic should see that
            # this file was not what it seems, and open the original knowingly.
            outcomes.append(_Outcome(IndexRow(entry, "listed", note=WITHHELD_ACTIVE)))
        elif entry.is_pdf:
            outcome = _exhibit_outcome(entry, attachment_bytes, exhibit_pages)
            if outcome.exhibit is not None:
                exhibit_pages += outcome.exhibit.pages
            outcomes.append(outcome)
        else:
            # HEIC/HEIF need decoders Pillow lacks; DICOM needs a viewer.
            outcomes.append(_Outcome(IndexRow(entry, "listed", note="preview not available")))
    return _render_html(content, outcomes)


def build_confirmation_pdf(content: ConfirmationContent, *, fetcher: SandboxedFetcher | None = None) -> RenderedPdf:
    """The patient's confirmation, in ``content.language``."""
    output = render_document(confirmation_html(content), fetcher)
    return RenderedPdf.of(output.data, output.pages)


def confirmation_html(content: ConfirmationContent) -> str:
    return render_template(
        "paperwork/confirmation.html",
        c=content,
        _=wording.words(content.language),
        received_on=wording.format_date(content.received_on, content.language),
        size=lambda size: wording.format_size(size, content.language),
        g=exhibits.GEOMETRY,
        lang=content.language,
    )


PatientContent = QuoteComparisonContent | BookingSummaryContent

_PATIENT_TEMPLATES: Final[dict[type, str]] = {
    QuoteComparisonContent: "paperwork/quote_comparison.html",
    BookingSummaryContent: "paperwork/booking_summary.html",
}


def build_patient_pdf(content: PatientContent, *, fetcher: SandboxedFetcher | None = None) -> RenderedPdf:
    """The quote comparison or booking summary, in ``content.language``."""
    output = render_document(patient_html(content), fetcher)
    return RenderedPdf.of(output.data, output.pages)


def patient_html(content: PatientContent) -> str:
    """The HTML of a patient document; the helpers format in the document's language."""
    language = content.language
    return render_template(
        _PATIENT_TEMPLATES[type(content)],
        c=content,
        _=wording.words(language),
        lang=language,
        g=exhibits.GEOMETRY,
        date=lambda value: wording.format_date(value, language),
        money=lambda quote: wording.format_money(quote.price, quote.currency, language),
        days=lambda n: wording.format_days(n, language),
        included=lambda key: wording.include_label(key, language),
    )


# --------------------------------------------------------------------------- steps


def _image_job(
    entry: AttachmentEntry, attachment_bytes: AttachmentBytes, preview: bool = False,
) -> images.PreparedImage | IndexRow:
    """One figure: read and check, then decode and downscale, unless ``preview`` bytes
    (the worker's, checked against their SHA-256) already are the figure."""
    data = _read(entry, attachment_bytes)
    if isinstance(data, IndexRow):
        return data
    ready = figures.as_prepared(data) if preview and entry.sha256 else None
    if ready is not None:
        return ready
    try:
        return images.prepare(data)
    except images.ImageNotUsable as exc:
        return IndexRow(entry, "listed", note=f"preview not available: {exc}")


def _finish_image(outcome: _Outcome, result: images.PreparedImage | IndexRow) -> bool:
    """Record an image job's result; False when the image did not make it."""
    if isinstance(result, IndexRow):
        outcome.row = result
        return False
    outcome.image = result
    return True


def _collect(prepared: PreparedDossier) -> bool:
    """Wait for the image jobs; True when one failed, so the HTML must change."""
    failed = False
    for outcome in prepared.outcomes:
        if outcome.future is not None:
            result = outcome.future.result()  # re-raises a storage outage
            outcome.future = None
            if not _finish_image(outcome, result):
                failed = True
    return failed


def _exhibit_outcome(entry: AttachmentEntry, attachment_bytes: AttachmentBytes, pages_so_far: int) -> _Outcome:
    data = _read(entry, attachment_bytes)
    if isinstance(data, IndexRow):
        return _Outcome(data)
    try:
        exhibit = exhibits.prepare_exhibit(data)
    except exhibits.ExhibitNotUsable as exc:
        return _Outcome(IndexRow(entry, "failed", note=str(exc)))
    finally:
        del data
    if pages_so_far + exhibit.pages > MAX_EXHIBIT_PAGES:
        return _Outcome(IndexRow(entry, "failed", pages=exhibit.source_pages,
                                 note="too many pages to append here; use the download link"))
    return _Outcome(IndexRow(entry, "exhibit", pages=exhibit.source_pages), exhibit=exhibit)


def _render_html(content: DossierContent, outcomes: list[_Outcome]) -> PreparedDossier:
    """Number figures and exhibits in index order and render the dossier's HTML."""
    figure_no = exhibit_no = 0
    figure_list: list[tuple[str, _Outcome]] = []
    figure_context: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    for outcome in outcomes:
        row = outcome.row
        if row.status == "figure":
            figure_no += 1
            anchor = f"figure-{figure_no}"
            outcome.row = row = IndexRow(row.entry, "figure", label=f"Figure {figure_no}", anchor=anchor,
                                         caption=row.caption)
            figure_list.append((f"{anchor}-frame", outcome))
            figure_context.append({"anchor": anchor, "frame": f"{anchor}-frame", "label": row.label,
                                   "entry": row.entry, "caption": row.caption})
        elif row.status == "exhibit" and outcome.exhibit is not None:
            exhibit_no += 1
            anchor = f"exhibit-{exhibit_no}"
            outcome.row = row = IndexRow(row.entry, "exhibit", label=f"Exhibit {exhibit_no}", anchor=anchor,
                                         pages=row.pages)
            for index, landscape in enumerate(outcome.exhibit.orientations):
                pages.append({
                    "entry": row.entry, "label": row.label, "landscape": landscape, "first": index == 0,
                    "anchor": anchor if index == 0 else None, "number": index + 1,
                    "of": outcome.exhibit.pages,
                })
    html = render_template(
        "paperwork/dossier.html",
        c=content,
        rows=[o.row for o in outcomes if o.in_index],
        figures=figure_context,
        exhibit_pages=pages,
        prepared_on=wording.format_date(content.prepared_on, "en"),
        not_provided=NOT_PROVIDED,
        g=exhibits.GEOMETRY,
        figure_height=FIGURE_HEIGHT_MM,
        _=wording.words("en"),
        lang="en",
    )
    return PreparedDossier(html=html, outcomes=outcomes, figures=figure_list)


def _assemble(output, prepared: PreparedDossier) -> bytes:
    """Paint the figures and merge the exhibits into the rendered PDF, in one pass."""
    paintings = []
    for frame_id, outcome in prepared.figures:
        located = output.anchors.get(frame_id)
        if outcome.image is None or located is None:
            log.warning("dossier figure %s has no %s", frame_id, "image" if located else "frame")
            continue
        paintings.append((frame_id, outcome.image, figures.Frame(*located)))
    if not paintings and not prepared.exhibits:
        return output.data
    writer = PdfWriter(clone_from=io.BytesIO(output.data))
    figures.paint(writer, paintings)
    exhibits.merge_exhibits(writer, prepared.exhibits)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _read(entry: AttachmentEntry, attachment_bytes: AttachmentBytes) -> bytes | IndexRow:
    try:
        data = attachment_bytes(entry)
    except FileNotFoundError:
        return IndexRow(entry, "failed", note="the file is missing from storage")
    if entry.sha256 and hashlib.sha256(data).hexdigest() != entry.sha256.lower():
        return IndexRow(entry, "failed", note="the stored file does not match its SHA-256")
    return data


def warm_up() -> None:
    """Compile every paperwork template and build one small dossier with one figure.

    A process's first render pays for fontconfig, WeasyPrint's stylesheets, the fonts,
    Pillow's codecs and pypdf (about 0.4 s); a worker that forks a horse per job calls
    this once before forking, so every horse starts with all of it in memory.
    """
    for name in ENV.list_templates(filter_func=lambda name: name.startswith("paperwork/")):
        ENV.get_template(name)
    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (29, 78, 137)).save(picture, format="JPEG")
    data = picture.getvalue()
    entry = AttachmentEntry(number=1, filename="warm-up.jpg", content_type="image/jpeg", size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), storage_key="warm-up")
    content = DossierContent(
        reference="MT-0000-000000", clinic_name="Warm-up", clinic_location="—", prepared_on=date(2026, 1, 1),
        # pycountry loads its tables on first use (about 0.05 s): the labels load them here.
        age=NOT_PROVIDED, country=country_label("KZ"), language=language_label("ru"), treatment="—",
        description="Warm-up · Прогрев",
        medications=NOT_PROVIDED, allergies=NOT_PROVIDED, conditions=NOT_PROVIDED, travel_window=NOT_PROVIDED,
        referral_reasons=(), attachments=(entry,),
    )
    build_dossier_pdf(content, lambda _entry: data)
