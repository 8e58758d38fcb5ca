"""Preview benchmark: our preview functions against the decoding library alone.

`python bench/previews.py` makes three inputs the way patients send them, then for
each one times our function and the library alone on the same file, side by side:

* HEIC: a 12-megapixel iPhone-sized photo (4032×3024, photo-like detail, pillow-heif's
  x265 encoder). Ours: `service.files.images.preview`. Library alone: pillow-heif's
  opener, `Image.thumbnail` to images.MAX_SIDE and a baseline JPEG (q80), as ours does.
* CT disc: a 512×512×100 CT series made with pydicom (16-bit, HU rescale, a window),
  zipped as a disc. Ours: `service.files.studies.read_disc` (the disc checked within
  its limits, members judged by their preamble, grouped by study and series, one
  windowed preview per series). Library alone: pydicom reading every member's header
  (stop_before_pixels) from the ZIP and the facts the summary shows (modality, dates,
  descriptions, numbers, UIDs), grouped by study and series, the middle image by InstanceNumber, modality LUT +
  VOI LUT (the file's window), scaled to 8 bits, thumbnail, JPEG.
* PDF scan: 40 pages, each a scanned-looking greyscale JPEG of 1275×1650 (150 dpi).
  Ours: `service.files.pdfs.preview` (pypdf's look at the file, the repair check, a
  temporary copy for Poppler, pdftoppm). Library alone: `pdftoppm -f 1 -l 1 -jpeg
  -scale-to MAX_SIDE` straight on the file.

Each side runs in its own fresh interpreter (this script with ``--worker``), which
imports the same modules for both sides, decodes once to warm up and then runs the
rounds: so peak RSS (VmHWM, plus pdftoppm's own peak, which GNU time reports: a
child's ru_maxrss would count the Python process it was forked from) is what that side
costs on top of the same imports. Time is wall-clock per preview, median of
the rounds; the ratio ours/library is the overhead our code adds (goal <= 1.3×).

`--smoke` makes tiny inputs and one round, in seconds: it checks that the bench still
runs (tests/bench/test_smoke.py), its figures mean nothing.

Exit status: 0 when the measurement completed (goal met or not), 1 when a side failed.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._pictures import photo_image  # noqa: E402

RATIO_GOAL = 1.3
FULL = {"rounds": 5, "heic": "4032x3024", "ct": "512x512x100", "pages": 40, "page": "1275x1650"}
SMOKE = {"rounds": 1, "heic": "400x300", "ct": "64x64x5", "pages": 3, "page": "200x260"}
SIDES = ("ours", "library")
KINDS = ("heic", "ct", "pdf")


# --- inputs ------------------------------------------------------------------------


def make_heic(path: Path, width: int, height: int) -> str:
    import pillow_heif

    pillow_heif.from_pillow(photo_image(1, width, height)).save(path, quality=80)
    return f"HEIC {width}×{height}"


def make_ct_disc(path: Path, side: int, slices: int) -> str:
    """One CT series on a disc: a water phantom with bone, soft tissue and noise."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(7)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    yy, xx = np.mgrid[0:side, 0:side]
    centre = (side - 1) / 2
    radius = np.hypot(yy - centre, xx - centre) / (side / 2)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as disc:
        for number in range(1, slices + 1):
            hu = np.where(radius < 0.9, 40, -1000).astype(np.int16)
            hu[radius < 0.25 + 0.05 * np.sin(number / 9)] = 700
            hu = hu + rng.normal(0, 12, size=hu.shape).astype(np.int16)
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = CTImageStorage
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
            ds.Modality, ds.StudyDate, ds.SeriesNumber, ds.InstanceNumber = "CT", "20240302", 2, number
            ds.StudyDescription, ds.SeriesDescription = "CT KNEE", "Bone 1.0"
            ds.PatientName, ds.PatientID, ds.PatientBirthDate = "PETROVA^AMINA", "KZ-0042", "19790402"
            ds.Rows = ds.Columns = side
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
            ds.WindowCenter, ds.WindowWidth = 300, 1500
            ds.PixelData = (hu + 1024).astype(np.int16).tobytes()
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=True)
            disc.writestr(f"DICOM/ST000001/SE000002/IM{number:06d}", out.getvalue())
    return f"CT disc {side}×{side}×{slices}"


def make_scan_pdf(path: Path, pages: int, width: int, height: int) -> str:
    """A scanner's PDF: every page one greyscale JPEG of the full page."""
    import pikepdf
    from PIL import ImageDraw

    pdf = pikepdf.Pdf.new()
    for number in range(pages):
        image = photo_image(number, width, height).convert("L")
        draw = ImageDraw.Draw(image)
        for line in range(40):
            y = 60 + line * (height - 120) // 40
            draw.rectangle((60, y, width - 60 - (line * 37) % (width // 3), y + max(1, height // 160)), fill=20)
        data = io.BytesIO()
        image.save(data, format="JPEG", quality=75)
        xobject = pdf.make_stream(data.getvalue(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                                  Width=width, Height=height, ColorSpace=pikepdf.Name.DeviceGray,
                                  BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode)
        content = pdf.make_stream(b"q 612 0 0 792 0 0 cm /Im1 Do Q")
        pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, 612, 792], Contents=content,
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im1=xobject)),
        )))
    pdf.save(path)
    return f"PDF scan, {pages} pages of {width}×{height}"


# --- the two sides -----------------------------------------------------------------


def ours(kind: str, path: Path) -> None:
    from service.files import images, pdfs, studies

    with path.open("rb") as stream:
        if kind == "heic":
            images.preview(stream)
        elif kind == "ct":
            disc = studies.read_disc(stream)
            assert all(series.preview is not None for study in disc.studies for series in study.series), disc
        else:
            pdfs.preview(stream)


def library(kind: str, path: Path) -> None:
    if kind == "heic":
        _heic_alone(path)
    elif kind == "ct":
        _pydicom_alone(path)
    else:
        _pdftoppm_alone(path)


def _jpeg(image) -> bytes:
    from service.files import images

    image.thumbnail((images.MAX_SIDE, images.MAX_SIDE), images.RESAMPLE, reducing_gap=3.0)
    out = io.BytesIO()
    image.convert("RGB" if image.mode not in ("RGB", "L") else image.mode).save(
        out, format="JPEG", quality=images.JPEG_QUALITY, optimize=False, progressive=False)
    return out.getvalue()


def _heic_alone(path: Path) -> bytes:
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    with Image.open(path) as image:
        return _jpeg(image)


def _pydicom_alone(path: Path) -> bytes:
    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    with zipfile.ZipFile(path) as disc:
        series: dict[tuple[str, str], list[tuple[int, str]]] = {}
        shown = set()
        for info in disc.infolist():
            with disc.open(info) as member:
                header = pydicom.dcmread(member, stop_before_pixels=True)
            # What the disc's summary shows and groups by, as ours reads it.
            shown.add((header.Modality, header.StudyDate, header.get("StudyDescription"),
                       header.get("SeriesDescription"), header.get("SeriesNumber"), header.SOPInstanceUID))
            series.setdefault((header.StudyInstanceUID, header.SeriesInstanceUID), []).append(
                (int(header.InstanceNumber), info.filename))
        for members in series.values():
            members.sort()
            with disc.open(members[len(members) // 2][1]) as member:
                ds = pydicom.dcmread(member)
            values = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
            low, high = float(values.min()), float(values.max())
            scaled = ((values - low) * (255 / (high - low or 1))).astype(np.uint8)
            data = _jpeg(Image.fromarray(scaled, "L"))
    return data


def _pdftoppm_alone(path: Path) -> bytes:
    from service.files import images, pdfs

    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([pdfs.PDFTOPPM, "-f", "1", "-l", "1", "-jpeg", "-scale-to", str(images.MAX_SIDE),
                        "-singlefile", str(path), f"{folder}/page"], check=True, capture_output=True)
        return Path(folder, "page.jpg").read_bytes()


# --- measuring ---------------------------------------------------------------------


def rss_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def worker(kind: str, side: str, path: Path, rounds: int) -> None:
    """One side on one input, in this fresh process; prints its figures as JSON."""
    import pikepdf  # noqa: F401 - the same imports on both sides, so RSS compares
    import pillow_heif  # noqa: F401
    import pydicom  # noqa: F401
    import pypdf  # noqa: F401

    from service.files import images, pdfs, studies  # noqa: F401

    run = ours if side == "ours" else library
    # A child's ru_maxrss counts the Python process it was forked from; GNU time, small
    # itself, reports pdftoppm's own peak. Both sides run Poppler through it.
    folder = Path(tempfile.mkdtemp(prefix="bench-pdftoppm-"))
    peaks = folder / "peaks"
    wrapper = folder / "pdftoppm"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/time -a -o {peaks} -f %M {pdfs.PDFTOPPM} "$@"\n')
    wrapper.chmod(0o755)
    pdfs.PDFTOPPM = str(wrapper)  # type: ignore[misc]
    baseline = rss_kib("VmRSS")
    run(kind, path)  # warm-up: codecs, plugins, page cache
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run(kind, path)
        times.append(time.perf_counter() - start)
    children = max((int(v) for v in peaks.read_text().split()), default=0) if peaks.exists() else 0
    print(json.dumps({"times": times, "baseline": baseline, "peak": rss_kib("VmHWM"), "children": children}))


def measure(kind: str, side: str, path: Path, rounds: int) -> dict:
    command = [sys.executable, __file__, "--worker", kind, side, str(path), "--rounds", str(rounds)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} {side} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--smoke", action="store_true", help="tiny inputs, one round: only checks the bench runs")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "SIDE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    rounds = args.rounds or sizes["rounds"]
    if args.worker:
        kind, side, path = args.worker
        worker(kind, side, Path(path), rounds)
        return 0

    from service.files import images

    with tempfile.TemporaryDirectory(prefix="bench-previews-") as folder:
        heic_w, heic_h = (int(v) for v in sizes["heic"].split("x"))
        ct_w, _, ct_n = (int(v) for v in sizes["ct"].split("x"))
        page_w, page_h = (int(v) for v in sizes["page"].split("x"))
        paths = {"heic": Path(folder, "IMG_0001.HEIC"), "ct": Path(folder, "disc.zip"), "pdf": Path(folder, "scan.pdf")}
        started = time.perf_counter()
        labels = {
            "heic": make_heic(paths["heic"], heic_w, heic_h),
            "ct": make_ct_disc(paths["ct"], ct_w, ct_n),
            "pdf": make_scan_pdf(paths["pdf"], sizes["pages"], page_w, page_h),
        }
        print(f"inputs made in {time.perf_counter() - started:.1f} s; previews bounded to {images.MAX_SIDE} px; "
              f"{rounds} round(s) after a warm-up, each side in a fresh interpreter")
        print()
        failed = False
        for number, kind in enumerate(KINDS):
            figures = {}
            order = SIDES if number % 2 == 0 else tuple(reversed(SIDES))
            try:
                for side in order:
                    figures[side] = measure(kind, side, paths[kind], rounds)
            except RuntimeError as exc:
                print(f"{kind}: {exc}", file=sys.stderr)
                failed = True
                continue
            mine, theirs = figures["ours"], figures["library"]
            time_ratio = statistics.median(mine["times"]) / statistics.median(theirs["times"])
            mine_peak = mine["peak"] + mine["children"]
            theirs_peak = theirs["peak"] + theirs["children"]
            size = paths[kind].stat().st_size / 1e6
            print(f"{labels[kind]} ({size:.1f} MB)")
            print(f"  time per preview  ours {statistics.median(mine['times']):.3f} s  "
                  f"library {statistics.median(theirs['times']):.3f} s  ratio {time_ratio:.2f}×  "
                  f"(goal <= {RATIO_GOAL}×: {'met' if time_ratio <= RATIO_GOAL else 'NOT met'})")
            print(f"  peak RSS          ours {mine_peak / 1024:.1f} MiB  library {theirs_peak / 1024:.1f} MiB  "
                  f"ratio {mine_peak / theirs_peak:.2f}×  (after the same imports: ours {mine['baseline'] / 1024:.1f}, "
                  f"library {theirs['baseline'] / 1024:.1f} MiB; largest child ours {mine['children'] / 1024:.1f}, "
                  f"library {theirs['children'] / 1024:.1f} MiB)")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
