"""Browser tests: the real app behind a real HTTP server in a background thread,
driven by Debian's Chromium through Playwright (no browser download)."""
from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import CATALOG, ROOT, make_config
from tests.fixtures.services import free_port, unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
# axe-core, vendored from the npm registry by `make axe` (part of `make test`; the
# version is pinned once, in the Makefile) and never committed.
AXE_JS = ROOT / ".venv" / "axe" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_BLOCKING = frozenset({"serious", "critical"})
CSP_MESSAGE = re.compile(r"Content[- ]Security[- ]Policy", re.IGNORECASE)
TIMEOUT_MS = 5_000

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app `live_server` serves: CSRF on, its own SQLite file, the catalogue loaded.
    Tests use it to seed data (staff accounts, cases) inside `with live_app.app_context():`
    and end with `db.session.remove()`, as the server thread opens its own connections."""
    from flask_migrate import upgrade

    from wsgi import create_app
    from service.catalog.loader import load_file
    from service.extensions import db

    tmp = tmp_path_factory.mktemp("browser")
    app = create_app(
        make_config(f"sqlite:///{tmp / 'browser.db'}", tmp, WTF_CSRF_ENABLED=True, SERVER_NAME=None)
    )
    with app.app_context():
        upgrade()
        load_file(CATALOG)
        db.session.remove()
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[str]:
    """The app with CSRF on, on its own SQLite file (the server thread opens its own
    connections, so the rollback-per-test fixture cannot be used here)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


class BrowserLog:
    """Console errors and uncaught page errors seen during one test."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []

    def watch(self, page) -> None:
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def csp_errors(self) -> list[str]:
        return [text for text in self.console_errors if CSP_MESSAGE.search(text)]

    def assert_clean(self) -> None:
        assert self.csp_errors() == [], "Content-Security-Policy violations in the console"
        assert self.page_errors == [], "uncaught JavaScript errors"


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


def _artifact_name(request: pytest.FixtureRequest, suffix: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", request.node.name)
    return ARTIFACTS / f"{stem}-{suffix}.png"


@pytest.fixture
def make_page(
    browser, live_server: str, browser_log: BrowserLog, request: pytest.FixtureRequest
) -> Iterator[Callable[..., object]]:
    """Open a page in a fresh browser context (own cookies, own CSRF session);
    keyword arguments go to `browser.new_context` (e.g. viewport=...)."""
    contexts = []
    pages = []

    def open_page(**context_options):
        options = {"base_url": live_server, "viewport": {"width": 1024, "height": 900}}
        options.update(context_options)
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        browser_log.watch(page)
        pages.append(page)
        return page

    yield open_page

    if request.node.stash.get(_FAILED, False):
        for number, page in enumerate(pages):
            try:
                page.screenshot(path=_artifact_name(request, f"failure-{number}"), full_page=True)
            except Exception:  # the page may be gone; the failure itself is what matters
                pass
    for context in contexts:
        context.close()


@pytest.fixture
def page(make_page):
    return make_page()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """screenshot(page, "form") -> test-artifacts/<test name>-form.png (full page)."""

    def take(page, suffix: str) -> Path:
        path = _artifact_name(request, suffix)
        page.screenshot(path=path, full_page=True)
        return path

    return take


class Axe:
    """axe-core run inside a page. It is injected through the DevTools protocol
    (Runtime.evaluate is not subject to the page's Content-Security-Policy, which
    forbids inline script), so the CSP stays in force for everything else the page does."""

    def __init__(self, source: str) -> None:
        self.source = source

    def inject(self, page) -> str:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            cdp = page.context.new_cdp_session(page)
            try:
                result = cdp.send("Runtime.evaluate", {"expression": self.source, "returnByValue": False})
            finally:
                cdp.detach()
            assert "exceptionDetails" not in result, f"axe-core did not load: {result['exceptionDetails']}"
        return page.evaluate("() => window.axe.version")

    def violations(self, page) -> list[dict]:
        """Every WCAG 2.0/2.1 A and AA violation axe finds in the page as it is now."""
        self.inject(page)
        options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
        return page.evaluate(
            """async options => {
                 const results = await window.axe.run(document, options);
                 return results.violations.map(v => ({
                   id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                   nodes: v.nodes.map(n => ({target: n.target, impact: n.impact, summary: n.failureSummary})),
                 }));
               }""",
            options,
        )

    def assert_clean(self, page, where: str) -> list[dict]:
        """Fail on any serious or critical violation, naming each rule and element;
        return the minor and moderate ones (for the caller to print or ignore)."""
        found = self.violations(page)
        blocking = [v for v in found if v["impact"] in AXE_BLOCKING]
        if blocking:
            lines = [f"axe: {len(blocking)} serious or critical WCAG 2.1 AA violation(s) on {where} ({page.url}):"]
            for v in blocking:
                lines.append(f"- {v['id']} [{v['impact']}] {v['help']} ({v['helpUrl']})")
                for node in v["nodes"]:
                    lines.append(f"    {json.dumps(node['target'])}: {(node['summary'] or '').strip()}")
            pytest.fail("\n".join(lines), pytrace=False)
        return [v for v in found if v["impact"] not in AXE_BLOCKING]


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.exists():
        why = "npm is not installed" if shutil.which("npm") is None else "it has not been fetched yet"
        unavailable(f"axe-core is missing at {AXE_JS} ({why}): `make axe` fetches it from the npm registry")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture
def axe(axe_source: str) -> Axe:
    """axe.assert_clean(page, "the empty form"): zero serious or critical violations."""
    return Axe(axe_source)


def remove_case(app: Flask, case_id: int, user_emails: tuple[str, ...] = ()) -> None:
    """Delete a case a test seeded, with everything hanging off it, and the users it made:
    the live app's database is shared by the session's browser tests (the staff
    console's dashboard counts clinics' answers)."""
    from sqlalchemy import delete, select, update

    from service.extensions import db
    from service.models import (
        Attachment, Case, CaseEvent, CaseMessage, Document, Notification, Opener, OutboxMessage, PatientQuestion, Quote,
        Referral, User, UserSession,
    )

    with app.app_context():
        referrals = select(Referral.id).where(Referral.case_id == case_id).scalar_subquery()
        db.session.execute(update(Case).where(Case.id == case_id).values(chosen_quote_id=None))
        for model in (Notification, Document, OutboxMessage, CaseEvent, PatientQuestion, Attachment, CaseMessage, Opener):
            db.session.execute(delete(model).where(model.case_id == case_id))
        db.session.execute(delete(Quote).where(Quote.referral_id.in_(referrals)))
        db.session.execute(delete(Referral).where(Referral.case_id == case_id))
        db.session.execute(delete(Case).where(Case.id == case_id))
        signed_in = select(User.id).where(User.email.in_(user_emails)).scalar_subquery()
        db.session.execute(delete(UserSession).where(UserSession.user_id.in_(signed_in)))
        db.session.execute(delete(User).where(User.email.in_(user_emails)))
        db.session.commit()
        db.session.remove()


def empty_queues(app: Flask) -> None:
    """Drop jobs an earlier test left in the queues, so a test runs only its own."""
    from rq import Queue

    from workers import queues

    with app.app_context():
        for name in queues.ALL:
            Queue(name, connection=queues.redis_connection()).empty()


def run_worker(app: Flask) -> None:
    """Run what the pages relayed, in this thread, as a worker would."""
    from rq import SimpleWorker

    from service.extensions import db
    from workers import queues

    with app.app_context():
        SimpleWorker(list(queues.ALL), connection=queues.redis_connection()).work(burst=True)
        db.session.remove()
