"""The verdict of bench/load.py: what counts as a lost case, the latency figures, the exit status."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import pytest

from bench.load import (
    Comparison,
    Figures,
    Report,
    SentFile,
    StoredCase,
    StoredFile,
    StoredObject,
    case_problem,
    hidden_values,
    percentiles,
    round_order,
)
from service.cases.status import CaseStatus
from tests.fixtures import files

SENT = [
    SentFile("lab-1-1.pdf", "application/pdf", files.pdf("one")),
    SentFile("scan-1-2.png", "image/png", files.png()),
]


def stored(sent: list[SentFile] = SENT, **changes) -> StoredCase:
    case = StoredCase(
        reference="MT-2026-000001",
        status=CaseStatus.ROUTED,
        route_job_done=True,
        files=tuple(StoredFile(f.name, f.size, f.sha256, f"cases/1/attachments/{i}") for i, f in enumerate(sent)),
    )
    return replace(case, **changes)


def bucket(case: StoredCase, sent: list[SentFile] = SENT) -> dict[str, StoredObject]:
    return {file.storage_key: StoredObject(f.size, f.md5) for file, f in zip(case.files, sent)}


def test_a_routed_case_with_every_file_in_the_bucket_is_not_lost() -> None:
    case = stored()
    assert case_problem(SENT, case, bucket(case)) is None


def test_a_case_sent_to_review_counts_as_routed() -> None:
    case = stored(status=CaseStatus.NEEDS_ATTENTION)
    assert case_problem(SENT, case, bucket(case)) is None


def _missing_case() -> tuple:
    return None, {}


def _file_missing() -> tuple:
    case = stored(SENT[:1])
    return case, bucket(case, SENT[:1])


def _file_changed() -> tuple:
    case = stored()
    first, second = case.files
    case = replace(case, files=(first, replace(second, sha256="0" * 64)))
    return case, bucket(case)


def _extra_file() -> tuple:
    extra = SentFile("lab-9-9.pdf", "application/pdf", files.pdf("nine"))
    case = stored([*SENT, extra])
    return case, bucket(case, [*SENT, extra])


def _object_missing() -> tuple:
    case = stored()
    objects = bucket(case)
    del objects[case.files[1].storage_key]
    return case, objects


def _object_differs() -> tuple:
    case = stored()
    objects = bucket(case)
    key = case.files[0].storage_key
    objects[key] = StoredObject(objects[key].size, "0" * 32)
    return case, objects


def _never_routed() -> tuple:
    case = stored(status=CaseStatus.SUBMITTED, route_job_done=False)
    return case, bucket(case)


def _route_job_not_done() -> tuple:
    case = stored(route_job_done=False)
    return case, bucket(case)


@pytest.mark.parametrize(
    "make",
    [_missing_case, _file_missing, _file_changed, _extra_file, _object_missing, _object_differs,
     _never_routed, _route_job_not_done],
)
def test_an_accepted_submission_not_all_there_is_lost(make) -> None:
    case, objects = make()
    assert case_problem(SENT, case, objects)


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # order does not matter
    assert percentiles(values) == pytest.approx({50: 50.5, 95: 95.05, 99: 99.01})
    assert percentiles([0.25]) == {50: 0.25, 95: 0.25, 99: 0.25}
    assert all(math.isnan(v) for v in percentiles([]).values())


def report(**changes) -> Report:
    clean = Report(
        sent=10, accepted=10, errors=Counter(), lost={}, post_latency={}, form_latency={}, seconds=5.0,
        bare_rate=100.0, bare_latency={}, route_wait=1.0, cases_in_db=10,
    )
    return replace(clean, **changes)


def test_the_run_passes_only_without_errors_and_lost_cases() -> None:
    assert report().ok
    assert not report(errors=Counter({"TimeoutError": 1})).ok
    assert not report(lost={"token": "not routed"}).ok
    assert not report(sent=0, accepted=0).ok


def test_the_hidden_fields_are_read_in_any_attribute_order() -> None:
    html = (
        '<input id="csrf_token" name="csrf_token" type="hidden" value="abc.def">'
        '<input type="hidden" value="tok_123-x" name="submission_token">'
        '<input name="website" type="text" value="">'
    )
    assert hidden_values(html) == {"csrf_token": "abc.def", "submission_token": "tok_123-x"}


def test_each_configuration_goes_first_in_turn_and_the_first_round_starts_with_the_app() -> None:
    tiers = ["after", "before", "bare app"]
    orders = [round_order(tiers, number) for number in range(4)]
    assert orders[0] == tiers
    assert [order[0] for order in orders] == ["after", "before", "bare app", "after"]
    assert all(sorted(order) == sorted(tiers) for order in orders)


def test_cpu_is_per_accepted_submission_and_ratios_are_per_round() -> None:
    figures = Figures(accepted=40, errors=2, seconds=4.0, web_cpu=2.0, worker_cpu=0.5)
    assert (figures.rate, figures.web_ms, figures.worker_ms) == (10.0, 50.0, 12.5)
    assert math.isnan(Figures(accepted=0, errors=5, seconds=4.0, web_cpu=1.0).web_ms)
    rounds = [
        {"after": Figures(30, 0, 1.0), "before": Figures(20, 0, 1.0), "bare app": Figures(60, 0, 1.0)},
        {"after": Figures(20, 1, 1.0), "before": Figures(10, 0, 1.0), "bare app": Figures(80, 0, 1.0)},
    ]
    comparison = Comparison(["after", "before", "bare app"], rounds, bare_rows=140)
    assert comparison.ratios("after", "bare app") == [0.5, 0.25]
    assert comparison.ratios("after", "before") == [1.5, 2.0]
    assert comparison.errors == {"after": 1}
