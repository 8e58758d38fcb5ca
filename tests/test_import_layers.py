"""The import rules of .importlinter (layers top to bottom; nothing but the composition
root imports the workers), checked as `make test` does, and the composition root itself."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_importing_wsgi_builds_no_app():
    """`import wsgi` does no I/O: the app is built on first access to `wsgi.app`."""
    code = "import wsgi, sys; print('app' in vars(wsgi), 'workers.cli' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_the_web_factory_alone_has_no_worker_commands(tmp_path):
    from service import create_app as web_app
    from tests.conftest import make_config
    from wsgi import create_app

    config = make_config("sqlite://", tmp_path)
    assert "worker" not in web_app(config).cli.commands
    composed = create_app(config)
    assert {"worker", "jobs", "uploads", "cases"} <= set(composed.cli.commands)
