"""Collecting from a learning-management system and exporting for one (book/instructors.md), tested
with made-up downloads in a temporary course directory:

- the grader's collector (``LmsCollector``, nbgrader_config.py) reads Canvas's and Moodle's bulk
  download names, flat and in folders, late and re-uploaded, and skips every other file;
- ``scripts/grade.py collect`` puts a Canvas zip and a Moodle zip into ``submitted/`` (exact tree,
  each file the student's), and plain ``nbgrader zip_collect`` does the same with the configured
  collector;
- ``scripts/grade.py export --lms`` writes one assignment's points, for every student of the
  gradebook (0 without a submission), in the plain, Canvas and Moodle layouts.

The grades are put in the gradebook directly (nbgrader's API), without autograding: this file runs
in seconds.
"""
from __future__ import annotations

import csv
import json
import shutil
import sys
import warnings
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import grade
import pytest
from conftest import ROOT, run_nbgrader

sys.path.insert(0, str(ROOT))
from grader.nbgrader_plugins import lms_submission, release_name  # noqa: E402

A = "ch01_discriminative_vs_generative"
NB = f"{A}.ipynb"

# A Canvas download ("Download Submissions"): one flat folder.
CANVAS = {
    f"doejane_1001_5001_{NB}": "jane",
    f"smithjohn_LATE_1002_5002_{A}-1.ipynb": "john",  # late, and uploaded again under the same name
    "leeann_1003_5003_my solution.ipynb": "ann",  # a name of her own: kept
    "leeann_1003_5004_notes.txt": None,  # not a notebook
    NB: None,  # no Canvas prefix: whose?
}
# A Moodle download: a folder per student (Moodle 4.1 on, and the "..._file_/" of Moodle 3), and the
# flat form; full names with spaces, accents and hyphens.
MOODLE = {
    f"Ana María López_2001_assignsubmission_file/{NB}": "ana",
    f"Jean-Luc Picard_2002_assignsubmission_file_/{A} (1).ipynb": "jean-luc",  # a browser's " (1)"
    f"Zoë Ng_2003_assignsubmission_file_{NB}": "zoe",
    "Zoë Ng_2003_assignsubmission_onlinetext_onlinetext.html": None,
    "random notes.ipynb": None,
}
COLLECTED = {  # what each student's folder must hold: file -> whose content
    f"1001/{A}/{NB}": "jane",
    f"1002/{A}/{NB}": "john",
    f"1003/{A}/my solution.ipynb": "ann",
    f"2001/{A}/{NB}": "ana",
    f"2002/{A}/{NB}": "jean-luc",
    f"2003/{A}/{NB}": "zoe",
}


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """A course directory with chapter 1 released (notebooks/ and the gradebook), as in test_grader.py."""
    course = tmp_path_factory.mktemp("lms-release")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
    run_nbgrader(["generate_assignment", A, "--force"], course)
    return course


@pytest.fixture
def course(released, tmp_path) -> Path:
    """A fresh copy of the released course, for one test."""
    return Path(shutil.copytree(released, tmp_path / "course"))


def make_zip(path: Path, entries: dict[str, str | None], release: Path) -> Path:
    """A made-up download: each notebook entry is the release, marked with whose it is (its
    metadata's ``made_up``); the other entries are a line of text."""
    nb = json.loads(release.read_text())
    with zipfile.ZipFile(path, "w") as z:
        for name, who in entries.items():
            if name.endswith(".ipynb"):
                nb["metadata"]["made_up"] = who
                z.writestr(name, json.dumps(nb))
            else:
                z.writestr(name, "not a notebook\n")
    return path


def submitted_tree(course: Path) -> dict[str, str | None]:
    """Every file under submitted/ -> the ``made_up`` mark of its notebook."""
    return {str(p.relative_to(course / "submitted")): json.loads(p.read_text())["metadata"].get("made_up")
            for p in sorted((course / "submitted").rglob("*")) if p.is_file()}


@pytest.mark.parametrize("path, expected", [
    (f"/c/extracted/submissions/doejane_1001_5001_{NB}", ("1001", NB)),
    ("/c/extracted/s/smithjohn_late_1002_5002_ch01-2.ipynb", ("1002", "ch01-2.ipynb")),
    ("/c/extracted/s/smithjohn_LATE_1002_5002_01 intro.ipynb", ("1002", "01 intro.ipynb")),
    ("/c/extracted/m/Ana María López_2001_assignsubmission_file/sub/x.ipynb", ("2001", "sub/x.ipynb")),
    ("/c/extracted/m/O Brien_7_assignsubmission_file_/x.ipynb", ("7", "x.ipynb")),
    ("/c/extracted/m/Zoë Ng_2003_assignsubmission_file_x_1_2.ipynb", ("2003", "x_1_2.ipynb")),
    (f"/c/extracted/submissions/{NB}", None),
    ("/c/extracted/m/Zoë Ng_2003_assignsubmission_onlinetext_onlinetext.html", None),
    ("/c/extracted/notes_2024.ipynb", None),
])
def test_lms_names_give_the_student_and_the_file(path, expected):
    assert lms_submission(path) == expected


@pytest.mark.parametrize("name, expected", [
    (NB, NB), (f"{A}-1.ipynb", NB), (f"{A}-12.ipynb", NB), (f"{A} (1).ipynb", NB), (f"{A} (2)-1.ipynb", NB),
    ("my solution.ipynb", "my solution.ipynb"), ("other-1.ipynb", "other-1.ipynb"), (f"{A}-1.py", f"{A}-1.py"),
])
def test_a_copy_of_a_released_notebook_gets_its_name(name, expected):
    assert release_name(name, [NB]) == expected


def test_collect_canvas_and_moodle_downloads(course, tmp_path, capsys):
    release = course / "notebooks" / A / NB
    zips = [make_zip(tmp_path / "submissions.zip", CANVAS, release),
            make_zip(tmp_path / "moodle.zip", MOODLE, release)]
    assert grade.main(["--course", str(course), "collect", A, *map(str, zips)]) == 0
    out = capsys.readouterr().out
    assert submitted_tree(course) == COLLECTED
    assert sorted(p.name for p in (course / "downloaded" / A / "archive").iterdir()) == ["moodle.zip",
                                                                                         "submissions.zip"]
    lines = out.splitlines()
    assert f"collected 6 student(s) of {A} into submitted/<student>/{A}/:" in lines
    assert f"  1002: {NB}" in lines
    assert "  1003: my solution.ipynb (not a released notebook's name)" in lines
    assert "skipped 4 file(s):" in lines
    for skipped in ("submissions/leeann_1003_5004_notes.txt: not a notebook",
                    f"submissions/{NB}: not named like a Canvas or Moodle download",
                    "moodle/Zoë Ng_2003_assignsubmission_onlinetext_onlinetext.html: "
                    "not named like a Canvas or Moodle download",
                    "moodle/random notes.ipynb: not named like a Canvas or Moodle download"):
        assert f"  {skipped}" in lines


def test_plain_nbgrader_zip_collect_uses_the_configured_collector(course, tmp_path):
    archive = course / "downloaded" / A / "archive"
    archive.mkdir(parents=True)
    make_zip(archive / "submissions.zip", CANVAS, course / "notebooks" / A / NB)
    result = run_nbgrader(["zip_collect", A, "--force"], course)
    assert submitted_tree(course) == {k: v for k, v in COLLECTED.items() if k.startswith("100")}, result.stderr
    assert "not named like a Canvas or Moodle download" in result.stderr


def test_collect_names_a_bad_argument(course, tmp_path):
    not_zip = tmp_path / "grades.zip"
    not_zip.write_text("not a zip")
    for args, message in ((["nope", str(not_zip)], "ASSIGNMENT 'nope': no release folder"),
                          ([A, str(tmp_path / "missing.zip")], "no such file"),
                          ([A, str(not_zip)], "not a zip archive")):
        with pytest.raises(SystemExit) as stop:
            grade.main(["--course", str(course), "collect", *args])
        assert message in str(stop.value)
    assert not (course / "submitted").exists()


def release_points(course: Path) -> dict[str, float]:
    """grade_id -> points of each graded cell, read from the release notebook."""
    nb = json.loads((course / "notebooks" / A / NB).read_text())
    return {c["metadata"]["nbgrader"]["grade_id"]: float(c["metadata"]["nbgrader"]["points"])
            for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")}


@pytest.fixture
def graded(course) -> tuple[Path, dict[str, float]]:
    """The course with a made-up class in its gradebook: 1001 (Jane Doe) full marks, 1002 (John
    Smith) the first exercise only, 1003 (no name) no submission. Returns (course, expected points)."""
    points = release_points(course)
    first = next(iter(points))
    with grade.gradebook(course) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's add_submission: SQLAlchemy's autoflush warning
        gb.update_or_create_student("1001", first_name="Jane", last_name="Doe", email="jane@example.org")
        gb.update_or_create_student("1002", first_name="John", last_name="Smith")
        gb.update_or_create_student("1003")
        for student, scored in (("1001", set(points)), ("1002", {first})):
            for notebook in gb.update_or_create_submission(A, student).notebooks:
                for cell in notebook.grades:
                    cell.auto_score = points[cell.name] if cell.name in scored else 0.0
                    cell.needs_manual_grade = False
        gb.db.commit()
    return course, {"1001": sum(points.values()), "1002": points[first], "1003": 0.0,
                    "max": sum(points.values())}


def export(course: Path, tmp_path: Path, *args: str) -> list[list[str]]:
    to = tmp_path / "export.csv"
    assert grade.main(["--course", str(course), "export", *args, "--assignment", A, "--to", str(to)]) == 0
    with open(to, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def g(x: float) -> str:
    return f"{x:g}"


def test_export_plain(graded, tmp_path):
    course, p = graded
    assert p["max"] == 14 and p["1002"] == 2  # the made-up class is what the test expects
    assert export(course, tmp_path, "--lms", "plain") == [
        ["student_id", "points", "max_points"],
        ["1001", g(p["1001"]), g(p["max"])],
        ["1002", g(p["1002"]), g(p["max"])],
        ["1003", "0", g(p["max"])],
    ]


def test_export_canvas(graded, tmp_path):
    course, p = graded
    assert export(course, tmp_path, "--lms", "canvas", "--column", "Chapter 1 (4242)") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Chapter 1 (4242)"],
        ["Points Possible", "", "", "", "", g(p["max"])],
        ["Doe, Jane", "1001", "", "", "", g(p["1001"])],
        ["Smith, John", "1002", "", "", "", g(p["1002"])],
        ["", "1003", "", "", "", "0"],
    ]
    assert export(course, tmp_path, "--lms", "canvas")[0][-1] == A  # a new assignment's title by default


def test_export_moodle(graded, tmp_path):
    course, p = graded
    rows = export(course, tmp_path, "--lms", "moodle")
    assert rows[0] == ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                       "Grade can be changed", "Last modified (grade)"]
    assert [r[:7] for r in rows[1:]] == [
        ["Participant 1001", "Jane Doe", "jane@example.org", "Submitted for grading", g(p["1001"]), g(p["max"]), "Yes"],
        ["Participant 1002", "John Smith", "", "Submitted for grading", g(p["1002"]), g(p["max"]), "Yes"],
        ["Participant 1003", "", "", "No submission", "0", g(p["max"]), "Yes"],
    ]
    for row in rows[1:]:  # now, with its time zone: Moodle then takes these grades over older ones
        modified = datetime.fromisoformat(row[7])
        assert modified.tzinfo is not None
        assert abs((datetime.now(timezone.utc) - modified).total_seconds()) < 120


def test_export_names_a_missing_or_unknown_assignment(graded, tmp_path, capsys):
    course, _ = graded
    with pytest.raises(SystemExit):
        grade.main(["--course", str(course), "export", "--lms", "canvas", "--to", str(tmp_path / "x.csv")])
    assert "--assignment is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        grade.main(["--course", str(course), "export", "--lms", "plain", "--assignment", "nope",
                    "--to", str(tmp_path / "x.csv")])
    assert "--assignment 'nope': not in the gradebook" in str(stop.value)
    assert not (tmp_path / "x.csv").exists()
