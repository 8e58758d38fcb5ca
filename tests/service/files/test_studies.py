"""ZIPs of CT/MRI discs: checked at intake, expanded within hard limits, grouped by study
and series, de-identified member by member; ZIP bombs refused in bounded memory."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pydicom import dcmread

from service import limits
from service.files import dicom, studies
from service.files.results import CopyFailed
from service.files.studies import DiscProblem, DiscRefused
from tests.fixtures import dicom_files, discs, files

ROOT = Path(__file__).resolve().parents[3]
SALT = b"case-salt-1"
# Growth of a worker's peak resident set while a 1 GiB-expanding ZIP is checked, read and
# copied. Measured: 0 KiB when the central directory gives it away, 2.5 MiB (the 2 MiB
# in-memory spool of a member, then a temporary file) when only the expanded bytes do;
# tracemalloc's peak 2.5 MiB. The bound leaves room for allocator noise.
MEMORY_BOUND_MIB = 16


@pytest.fixture(scope="module")
def disc(tmp_path_factory) -> discs.DiscZip:
    return discs.ct_disc(tmp_path_factory.mktemp("disc"))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return discs.bomb(tmp_path_factory.mktemp("bomb") / "bomb.zip")


def test_the_disc_groups_into_one_study_of_two_series_in_series_number_order(disc):
    result = studies.read_disc(io.BytesIO(disc.data))
    (study,) = result.studies
    assert study.label == "CT · 2024-03-02 · 2 series · 40 images"
    assert study.description == "CT chest"
    assert [(s.key, s.number, s.images, s.description) for s in study.series] == [
        ("1.1", 1, 15, "Series 1"), ("1.2", 2, 25, "Series 2"),
    ]
    assert result.dicom_files == 40


def test_each_series_has_one_windowed_preview_of_its_middle_image(disc, monkeypatch):
    previewed: list[tuple[int, int]] = []
    real = dicom.preview

    def spy(stream):
        ds = dcmread(stream, stop_before_pixels=True)
        previewed.append((int(ds.SeriesNumber), int(ds.InstanceNumber)))
        stream.seek(0)
        return real(stream)

    monkeypatch.setattr(dicom, "preview", spy)
    (study,) = studies.read_disc(io.BytesIO(disc.data)).studies
    assert previewed == [(1, 8), (2, 13)]  # the middle of 15 and of 25 by InstanceNumber
    for series in study.series:
        assert series.preview is not None and series.problem is None
        assert (series.preview.width, series.preview.height) == (64, 64)
        assert series.preview.data.startswith(b"\xff\xd8")


def test_everything_but_dicom_is_listed_as_ignored_with_why(disc):
    ignored = dict(studies.read_disc(io.BytesIO(disc.data)).ignored)
    assert ignored == {
        f"{discs.PATIENT_FOLDER}/DICOMDIR": studies.DICOMDIR,
        "AUTORUN.INF": studies.AUTORUN,
        "viewer/viewer.exe": studies.PROGRAM,
        "viewer/libdcm.so": studies.PROGRAM,
        "more.zip": studies.NESTED,
        "README.txt": studies.NOT_DICOM,
        "../../etc/x.dcm": studies.OUTSIDE,
        f"{discs.PATIENT_FOLDER}/DICOM/LINK": studies.SYMLINK,
    }
    assert set(ignored) == set(disc.ignored_members)


def test_dicom_is_judged_by_its_bytes_never_its_name():
    ct = dicom_files.dicom_bytes(dicom_files.ct_dataset())
    data = discs.zip_of({"notes.txt": ct, "image.dcm": b"\x00" * 200})
    result = studies.read_disc(io.BytesIO(data))
    assert result.dicom_files == 1
    assert result.ignored == (("image.dcm", studies.NOT_DICOM),)
    assert studies.check(io.BytesIO(data)) is None


def test_a_series_without_a_decoder_says_why_it_has_no_preview():
    ds = dicom_files.ct_dataset()
    data = discs.zip_of({"a.dcm": dicom_files.with_transfer_syntax(ds, dicom_files.MPEG4_HIGH_PROFILE)})
    (study,) = studies.read_disc(io.BytesIO(data)).studies
    (series,) = study.series
    assert series.preview is None and "not previewable" in series.problem


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_clean_copy_has_no_identity_neutral_names_and_consistent_new_uids(disc):
    copy = studies.clean_copy(io.BytesIO(disc.data), uid_salt=SALT, reference="MT-2024-000123")
    assert copy.content_type == "application/zip"
    members = _members(copy.stream.read())
    assert sorted(members) == [f"S01/I{n:04d}.dcm" for n in range(1, 16)] + [f"S02/I{n:04d}.dcm" for n in range(1, 26)]
    datasets = {name: dcmread(io.BytesIO(data)) for name, data in members.items()}
    for name, ds in datasets.items():
        assert "PatientBirthDate" not in ds or not ds.PatientBirthDate
        assert str(ds.get("PatientName", "")) != dicom_files.PATIENT_NAME
        assert str(ds.get("PatientID", "")) != dicom_files.PATIENT_ID
        raw = members[name]
        for secret in (b"Ivanova", dicom_files.PATIENT_ID.encode(), dicom_files.PATIENT_BIRTH_DATE.encode()):
            assert secret not in raw, (name, secret)
    study_uids = {str(ds.StudyInstanceUID) for ds in datasets.values()}
    assert len(study_uids) == 1 and study_uids != {disc.study_uid}
    by_folder = {
        folder: {str(ds.SeriesInstanceUID) for name, ds in datasets.items() if name.startswith(folder)}
        for folder in ("S01/", "S02/")
    }
    assert all(len(uids) == 1 for uids in by_folder.values())
    new_series = by_folder["S01/"] | by_folder["S02/"]
    assert len(new_series) == 2 and not new_series & set(disc.series_uids)
    # Images in InstanceNumber order under their new names.
    assert [int(datasets[f"S02/I{n:04d}.dcm"].InstanceNumber) for n in (1, 2, 25)] == [1, 2, 25]
    assert "PatientName" in copy.removed and "ignored members: 8" in copy.removed
    assert "pydicom" in copy.tool
    # The patient's folder name and every ignored member stay out of the copy.
    assert not any(discs.PATIENT_FOLDER in name or "DICOMDIR" in name for name in members)


def test_the_same_salt_maps_the_same_uids_and_another_salt_others(disc):
    def study_uid(salt: bytes) -> str:
        copy = studies.clean_copy(io.BytesIO(disc.data), uid_salt=salt, reference="MT-1")
        first = _members(copy.stream.read())["S01/I0001.dcm"]
        return str(dcmread(io.BytesIO(first)).StudyInstanceUID)

    assert study_uid(SALT) == study_uid(SALT) != study_uid(b"another case")


def test_a_zip_without_dicom_has_no_clean_copy():
    with pytest.raises(CopyFailed, match="no DICOM"):
        studies.clean_copy(io.BytesIO(discs.no_dicom()), uid_salt=SALT, reference="MT-1")
    with pytest.raises(CopyFailed, match="not a ZIP"):
        studies.clean_copy(io.BytesIO(b"PK\x03\x04 broken"), uid_salt=SALT, reference="MT-1")


@pytest.mark.parametrize("make, problem", [
    (lambda: discs.no_dicom(), DiscProblem.NO_DICOM),
    (lambda: files.zip_archive(), DiscProblem.NO_DICOM),
    (lambda: discs.small_disc()[:-30], DiscProblem.NOT_ZIP),
    (lambda: discs.many_entries(limits.DISC_MAX_ENTRIES + 1), DiscProblem.TOO_MANY_ENTRIES),
    (lambda: discs.encrypted_flag(discs.small_disc()), DiscProblem.ENCRYPTED),
])
def test_check_and_read_disc_refuse_what_is_not_a_disc_within_limits(make, problem):
    data = make()
    assert studies.check(io.BytesIO(data)) is problem
    if problem in (DiscProblem.NOT_ZIP, DiscProblem.TOO_MANY_ENTRIES):
        with pytest.raises(DiscRefused) as refused:
            studies.read_disc(io.BytesIO(data))
        assert refused.value.problem is problem


def test_entries_at_the_limit_pass():
    assert studies.check(io.BytesIO(discs.many_entries(limits.DISC_MAX_ENTRIES))) is None


def test_check_looks_only_at_the_first_bytes_of_members(monkeypatch):
    read: list[int] = []
    real_open = zipfile.ZipFile.open

    def counting_open(self, name, *args, **kwargs):
        member = real_open(self, name, *args, **kwargs)
        real_read = member.read
        member.read = lambda n=-1: read.append(n) or real_read(n)
        return member

    monkeypatch.setattr(zipfile.ZipFile, "open", counting_open)
    assert studies.check(io.BytesIO(discs.small_disc())) is None
    assert read == [512]  # one member, its first 512 bytes


def test_a_bomb_under_the_total_but_over_the_ratio_is_refused(tmp_path):
    path = discs.bomb(tmp_path / "ratio.zip", expanded=300 * limits.MIB)
    with path.open("rb") as stream:
        assert studies.check(stream) is DiscProblem.RATIO
        with pytest.raises(DiscRefused, match="expands more than 200 times") as refused:
            studies.read_disc(stream)
    assert refused.value.problem is DiscProblem.RATIO


def test_the_limits_hold_on_the_bytes_expanded_even_when_the_directory_is_believed(monkeypatch):
    """With the central directory's declared sizes not checked at all, the bytes expanded
    still count: the copy, which expands every member, crosses the total limit and is
    refused; the summary expands each member's header and one image per series only."""
    monkeypatch.setattr(studies, "_check_declared", lambda infos: None)
    data = discs.small_disc(images=3)
    member = max(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    monkeypatch.setattr(limits, "DISC_MAX_UNCOMPRESSED_BYTES", 2 * member)
    assert studies.read_disc(io.BytesIO(data)).dicom_files == 3
    with pytest.raises(CopyFailed, match="expands to more than"):
        studies.clean_copy(io.BytesIO(data), uid_salt=b"salt", reference="MT-2026-000001")
    monkeypatch.setattr(limits, "DISC_MAX_UNCOMPRESSED_BYTES", member // 2)
    with pytest.raises(DiscRefused) as refused:
        studies.read_disc(io.BytesIO(data))
    assert refused.value.problem is DiscProblem.TOO_LARGE


def test_understated_sizes_leave_a_damaged_member_not_a_crash():
    ct = dicom_files.dicom_bytes(dicom_files.ct_dataset())
    data = discs.zip_of({"a.dcm": ct, "b.dcm": ct})
    lying = discs.understate_sizes(data, "b.dcm", 1000)
    result = studies.read_disc(io.BytesIO(lying))
    assert result.dicom_files == 1 and result.ignored == (("b.dcm", studies.DAMAGED),)


_MEASURE = """
import io, json, sys, tracemalloc
from service import limits
from service.files import studies
from tests.fixtures import discs
mode, path = sys.argv[1], sys.argv[2]
if mode == "bytes":  # the declared sizes believed: only the bytes expanded can stop it
    studies._check_declared = lambda infos: None
def high_water_kib():
    # VmHWM: this process's peak resident set (ru_maxrss would carry the parent's over exec).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
def resident_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
# Warm up: pydicom and the decoders imported, as in a worker that has read a disc before.
small = discs.small_disc()
studies.read_disc(io.BytesIO(small))
studies.clean_copy(io.BytesIO(small), uid_salt=b"s", reference="MT-1").stream.close()
with open("/proc/self/clear_refs", "w") as reset:
    reset.write("5")  # resets VmHWM to the current resident set
before = resident_kib()
tracemalloc.start()
outcome = []
with open(path, "rb") as stream:
    outcome.append(str(studies.check(stream)))
    for call in (studies.read_disc, lambda s: studies.clean_copy(s, uid_salt=b"s", reference="MT-1")):
        try:
            call(stream)
            outcome.append("accepted")
        except (studies.DiscRefused, studies.CopyFailed) as exc:
            outcome.append(str(getattr(exc, "problem", None) or type(exc).__name__) + ": " + str(exc))
print(json.dumps({"rss_growth_kib": high_water_kib() - before, "rss_before_kib": before,
                  "traced_peak_kib": tracemalloc.get_traced_memory()[1] // 1024, "outcome": outcome}))
"""


@pytest.mark.parametrize("mode", ["declared", "bytes"])
def test_a_1_gib_expanding_zip_is_refused_in_bounded_memory(bomb, mode):
    """Measured in a fresh, warmed-up process: growth of its peak resident set (VmHWM,
    reset just before the calls) and tracemalloc's peak of Python allocations."""
    assert bomb.stat().st_size < limits.MAX_FILE_BYTES  # it passes the upload's size limit
    run = subprocess.run([sys.executable, "-c", _MEASURE, mode, str(bomb)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    measured = json.loads(run.stdout)
    print(f"1 GiB ZIP bomb ({mode}): {measured}")
    check, read, copy = measured["outcome"]
    if mode == "declared":
        assert check == "too_large"
        assert read.startswith("too_large: the ZIP expands to more than 512 MiB")
    else:
        assert read.startswith("ratio: CT/002.dcm expands more than 200 times")
    assert copy.startswith("CopyFailed")
    assert measured["rss_growth_kib"] < MEMORY_BOUND_MIB * 1024
    assert measured["traced_peak_kib"] < MEMORY_BOUND_MIB * 1024


def test_a_zip_of_a_dicomdir_alone_is_not_a_disc(tmp_path):
    folder = tmp_path / "only-index"
    index = dicom_files.dicomdir(folder, {"DICOM/IM1": dicom_files.dicom_bytes(dicom_files.ct_dataset())})
    data = discs.zip_of({"DICOMDIR": index.read_bytes()})
    assert studies.check(io.BytesIO(data)) is DiscProblem.NO_DICOM
    with_image = discs.zip_of({"DICOMDIR": index.read_bytes(), "DICOM/IM1": (folder / "DICOM/IM1").read_bytes()})
    assert studies.check(io.BytesIO(with_image)) is None
