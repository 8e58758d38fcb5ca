"""Expired staged uploads are removed by the worker's periodic table (at most once a
minute) and by `flask uploads cleanup`."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from service.cases import staging
from service.extensions import db
from service.models import StagedUpload
from tests.fixtures import files
from workers import uploads
from workers.schedule import PERIODIC, Schedule


def _expired(storage) -> str:
    """A complete staged upload left unclaimed for 25 hours."""
    content = files.pdf("Old scan")
    upload = staging.create("owner", "old.pdf", len(content), now=datetime.now(UTC) - timedelta(hours=25))
    staging.append(upload, io.BytesIO(content), offset=0, content_length=len(content), storage=storage)
    return upload.id


def test_the_periodic_table_runs_the_cleanup_at_most_once_a_minute(app_ctx, storage):
    ticks = iter([1000.0, 1030.0, 1061.0])
    schedule = Schedule(tuple(e for e in PERIODIC if e.run is uploads.cleanup), clock=lambda: next(ticks))
    first = _expired(storage)
    assert schedule.run_due() == ["staged uploads cleanup"]
    assert db.session.get(StagedUpload, first) is None
    second = _expired(storage)
    assert schedule.run_due() == []  # 30 s later: skipped
    assert db.session.get(StagedUpload, second) is not None
    assert schedule.run_due() == ["staged uploads cleanup"]
    db.session.expire_all()
    assert db.session.get(StagedUpload, second) is None
    assert not storage.exists(staging.file_key(second))


def test_cli_cleanup_removes_expired_uploads_and_says_so(app, app_ctx, storage):
    upload_id = _expired(storage)
    fresh = staging.create("owner", "new.pdf", 5).id
    result = app.test_cli_runner().invoke(args=["uploads", "cleanup"])
    assert result.exit_code == 0, result.output
    assert "1 expired upload(s) removed" in result.output and upload_id in result.output
    db.session.expire_all()
    assert db.session.get(StagedUpload, upload_id) is None
    assert db.session.get(StagedUpload, fresh) is not None
