"""A deployment that follows the README serves Russian: the `.mo` catalogues are
git-ignored build output that only `make` used to compile, so a checkout deployed with
`pip install`, `flask db upgrade`, `catalog load` and `gunicorn wsgi:app` spoke English.
The app now compiles a missing or stale catalogue when it starts (`service.gettext_build`):
beside its `.po`, or into a spare directory when the code tree is read-only."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests
from babel.support import Translations

from service import gettext_build
from tests.conftest import ROOT
from tests.fixtures.gunicorn import app_env, prepare_database, run_gunicorn

RU_PO = Path("service/translations/ru/LC_MESSAGES/messages.po")
# From RU_PO: the form's label and the confirmation's subject and heading.
FULL_NAME_RU = "Фамилия и имя"
SUBJECT_RU = "Medtour: мы получили ваш запрос MT-1"
RECEIVED_RU = "Заявка получена"


def checkout(target: Path) -> Path:
    """The tree as a fresh clone has it: git's files (committed, and new ones not ignored)
    and nothing else; no `.mo`, no `instance/`, no virtualenv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_a_checkout_deployed_as_the_readme_says_speaks_russian(tmp_path: Path):
    tree = checkout(tmp_path / "medtour")
    assert (tree / RU_PO).is_file()
    assert not list(tree.glob("service/translations/*/LC_MESSAGES/*.mo"))
    env = app_env(f"sqlite:///{tmp_path / 'medtour.db'}", tmp_path)
    # The README's production commands, run in the checkout, with no `make`.
    prepare_database(env, Path("data/catalog.json"), root=tree)
    mo = (tree / RU_PO).with_suffix(".mo")
    assert mo.is_file(), "the first command that starts the app compiles the catalogue"
    # Again without it: the web workers, starting together, each compile it.
    mo.unlink()
    with run_gunicorn(env, tmp_path, workers=2, root=tree) as server:
        page = requests.get(server.base_url + "/requests/new", headers={"Accept-Language": "ru"}, timeout=30)
        assert page.status_code == 200
        assert '<html lang="ru">' in page.text
        assert FULL_NAME_RU in page.text
    assert sorted(p.name for p in mo.parent.iterdir()) == ["messages.mo", "messages.po"]
    # The e-mails and PDFs (rendered by workers, without a request) read the same catalogue.
    said = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from wsgi import app
        from service.notifications import emails
        from service.paperwork.wording import words
        with app.app_context():
            print(words("ru")("Request received"))
            print(emails.patient_confirmation(
                reference="MT-1", status_url="http://x.test/s/t", language="ru", contact_email="care@x.test",
                mail_from="no-reply@x.test", to="a@x.test")["Subject"])
    """)], cwd=tree, env=env, capture_output=True, text=True, timeout=120)
    assert said.returncode == 0, said.stderr
    assert said.stdout.splitlines()[-2:] == [RECEIVED_RU, SUBJECT_RU]


def _tree_with_catalogue(root: Path) -> Path:
    directory = root / "translations"
    (directory / "ru" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy2(ROOT / RU_PO, directory / "ru" / "LC_MESSAGES" / "messages.po")
    return directory


def test_a_stale_catalogue_is_compiled_again_and_a_fresh_one_left_alone(tmp_path: Path):
    directory = _tree_with_catalogue(tmp_path)
    po = directory / "ru" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    mo.write_bytes(b"stale")
    os.utime(mo, ns=(po.stat().st_mtime_ns - 10**9,) * 2)
    spare = tmp_path / "spare"

    assert gettext_build.ready([str(directory)], lambda: spare) == [str(directory)]
    assert Translations.load(str(directory), ["ru"]).gettext("Full name") == FULL_NAME_RU
    compiled = mo.stat().st_mtime_ns
    assert gettext_build.ready([str(directory)], lambda: spare) == [str(directory)]
    assert mo.stat().st_mtime_ns == compiled
    assert not spare.exists()
    # Written through a temporary file moved into place: nothing else is left beside it.
    assert sorted(p.name for p in mo.parent.iterdir()) == ["messages.mo", "messages.po"]


def _unprivileged() -> list[str]:
    """A prefix that makes a command respect file modes even as root (without
    CAP_DAC_OVERRIDE); nothing for another user."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only directory cannot be simulated")
    return [setpriv, "--bounding-set", "-dac_override"]


def test_a_read_only_tree_is_compiled_into_the_spare_directory(tmp_path: Path):
    directory = _tree_with_catalogue(tmp_path)
    # A catalogue shipped compiled, without its .po (here the Russian words under "de"):
    # the mirror keeps it too.
    german = _tree_with_catalogue(tmp_path / "german") / "ru" / "LC_MESSAGES" / "messages.po"
    gettext_build.compile_catalogue(german, directory / "de" / "LC_MESSAGES" / "messages.mo")
    spare = tmp_path / "spare"
    spare.mkdir()
    for path in (directory, *directory.rglob("*")):
        if path.is_dir():
            path.chmod(0o555)
    script = textwrap.dedent(f"""
        from pathlib import Path
        from service import gettext_build
        print(gettext_build.ready([{str(directory)!r}], lambda: Path({str(spare)!r}))[0])
    """)
    compiled: dict[Path, int] = {}
    try:
        for start in ("first", "second"):
            result = subprocess.run([*_unprivileged(), sys.executable, "-c", script], cwd=ROOT,
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            mirror = Path(result.stdout.strip())
            assert mirror.parent == spare
            assert Translations.load(str(mirror), ["ru"]).gettext("Full name") == FULL_NAME_RU
            assert Translations.load(str(mirror), ["de"]).gettext("Full name") == FULL_NAME_RU
            assert not (directory / "ru" / "LC_MESSAGES" / "messages.mo").exists()
            written = {p: p.stat().st_mtime_ns for p in mirror.rglob("*.mo")}
            assert len(written) == 2
            if start == "second":
                assert written == compiled, "a fresh mirror is not written again"
            compiled = written
    finally:
        for path in (directory, *directory.rglob("*")):
            if path.is_dir():
                path.chmod(0o755)
