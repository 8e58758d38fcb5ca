"""Compiling the message catalogues when the app starts.

The `.po` files are the source (in git); the `.mo` files gettext reads are build output
(git-ignored). `make run` and `make test` compile them, but a deployment that follows
the README (`pip install -r requirements.txt`, `flask db upgrade`, `gunicorn wsgi:app`)
never runs `make`, and without a `.mo` every page, e-mail and PDF would quietly be
English. So the app compiles a missing or stale `.mo` (older than its `.po`) itself, with
Babel's own reader and writer, once per process at start: a `stat` per catalogue when
they are fresh, never anything per request.

A catalogue is compiled next to its `.po` when that directory is writable. When it is
not (the code tree is read-only), the whole directory is mirrored into a spare one
(under the instance folder, else the temporary directory), and the app reads that
mirror instead. Every file is written to a temporary name and moved into place with
`os.replace`, so gunicorn workers starting together never read half a catalogue.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

CATALOGUE: Final = "LC_MESSAGES/messages"


def _fresh(target: Path, source: Path) -> bool:
    try:
        return target.stat().st_mtime_ns >= source.stat().st_mtime_ns
    except FileNotFoundError:
        return False


def _replace(target: Path, write: Callable[[Path], None]) -> None:
    """Write `target` through a temporary file beside it, then move it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        temporary.chmod(0o644)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def compile_catalogue(po: Path, mo: Path) -> None:
    """`pybabel compile -i po -o mo`, through Babel's API (fuzzy entries left out)."""
    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name)

    def write(path: Path) -> None:
        with path.open("wb") as target:
            write_mo(target, catalog)

    _replace(mo, write)
    log.info("compiled %s (%d messages) from %s", mo, len(catalog), po)


def _languages(directory: Path) -> dict[str, Path]:
    """Each language of `directory` and its source: the `.po`, or a `.mo` shipped alone."""
    found: dict[str, Path] = {}
    for path in sorted(directory.glob(f"*/{CATALOGUE}.mo")):
        found[path.parent.parent.name] = path
    for path in sorted(directory.glob(f"*/{CATALOGUE}.po")):
        found[path.parent.parent.name] = path
    return found


def _in_place(directory: Path) -> bool:
    """Compile every stale catalogue of `directory` beside its `.po`; False if it cannot be written."""
    for source in _languages(directory).values():
        mo = source.with_suffix(".mo")
        if source.suffix != ".po" or _fresh(mo, source):
            continue
        try:
            compile_catalogue(source, mo)
        except OSError as exc:
            log.info("cannot write %s (%s); compiling into a spare directory", mo, exc)
            return False
    return True


def _mirror(directory: Path, spare: Path) -> Path:
    """`directory`'s catalogues, all compiled (or copied when shipped compiled) into a
    folder of `spare` of its own; a language no longer in `directory` is removed there."""
    mirror = spare / hashlib.sha256(str(directory).encode()).hexdigest()[:16]
    languages = _languages(directory)
    for language, source in languages.items():
        mo = mirror / language / f"{CATALOGUE}.mo"
        if _fresh(mo, source):
            continue
        if source.suffix == ".po":
            compile_catalogue(source, mo)
        else:
            _replace(mo, lambda path, source=source: shutil.copyfile(source, path))
    for gone in mirror.glob(f"*/{CATALOGUE}.mo"):
        if gone.parent.parent.name not in languages:
            gone.unlink(missing_ok=True)
    return mirror


def spare_directory(instance_path: str | None) -> Path:
    """Where catalogues go when the code tree is read-only: `<instance>/translations`
    if it can be created, else a folder of this user's in the temporary directory."""
    if instance_path is not None:
        candidate = Path(instance_path) / "translations"
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            pass
    candidate = Path(tempfile.gettempdir()) / f"medtour-translations-{os.getuid()}"
    candidate.mkdir(mode=0o700, exist_ok=True)
    owner = candidate.stat()
    if owner.st_uid != os.getuid() or owner.st_mode & 0o022:
        # Someone else's folder (or one others may write into) must not feed us catalogues.
        return Path(tempfile.mkdtemp(prefix="medtour-translations-"))
    return candidate


def ready(directories: Iterable[str], spare: Callable[[], Path]) -> list[str]:
    """The directories to read compiled catalogues from, in the order given: each one
    itself once its stale catalogues are compiled there, or, when it cannot be written,
    its compiled mirror in `spare()` (called only then)."""
    result = []
    for name in directories:
        directory = Path(name)
        result.append(name if _in_place(directory) else str(_mirror(directory, spare())))
    return result
