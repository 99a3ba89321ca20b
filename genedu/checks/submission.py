"""Will this notebook grade? The slips students make in Jupyter, found and repaired.

One repair, two places (like the exercise checks):

- **the grader** runs :func:`repair` on every submission before nbgrader grades it
  (``grader/nbgrader_plugins.py``, ``RepairSlips``) and writes what it found, and what it did, at the
  top of the graded notebook (so into the feedback) and into its log;
- **a student** runs the same :func:`repair` on their saved file before submitting:
  :func:`check_submission` (the exercise notebook's last cell) or, in a terminal,
  ``python -m genedu.checks.submission NOTEBOOK.ipynb``.

The slips: a cell pasted twice (JupyterLab's copy keeps the nbgrader metadata), an answer cell
split in two, a test cell moved above its answer, a cell's type changed to Markdown (and back),
a notebook saved by an editor that drops the nbgrader metadata (VS Code) or saves an older format
(Colab, nbformat 4.0 without cell ids), deleted cells, an empty file, megabytes of stored outputs.
What the release looks like comes from a *manifest* (:func:`manifest`): the nbgrader cells of the
released notebook, in order; the grader makes it from the release, and the course ships one per
assignment (``genedu/checks/manifests/``, written by ``scripts/release.py``) for the students' check.

A repaired notebook grades the answers that are in it as if the slip had not happened: every code
cell runs in order, as in the student's kernel, and each test cell is judged after the whole notebook
has run. Only what cannot be recovered (an answer that is not in the notebook) costs marks, and only
that exercise's. This module uses the standard library only; it works on notebooks as plain JSON
dicts (``nbformat``'s nodes are dicts too).
"""
from __future__ import annotations

import ast
import copy
import json
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

MANIFESTS = Path(__file__).resolve().parent / "manifests"
STUB = "raise NotImplementedError()"     # what an unanswered answer cell still holds
LARGE = 10 * 2 ** 20                     # stored outputs above this many bytes are worth a note
NOTES_MARK = "genedu-grader-notes"       # the cell metadata key of the grader's notes cell
NOTES_FOLDER = "grader_notes"            # <course>/grader_notes/<assignment>/<student>.json: scripts/grade.py's
                                         # notes for the grader (a renamed or unreadable file)


@dataclass
class Finding:
    """One slip: what was found in the notebook and what the grader does about it."""
    slip: str          # a short key: "pasted", "split-answer", "metadata-lost", ...
    found: str         # what is in the notebook, in a sentence
    done: str          # what the grader does, in a sentence
    costs: bool = False  # whether marks are lost (``done`` says which)
    fix: str = ""      # what the student can do about it, if anything

    def line(self) -> str:
        return " ".join(part for part in (self.found, self.done, self.fix) if part)


class Unreadable(ValueError):
    """The file is not a notebook at all (empty, not JSON, not nbformat 4): nothing can be graded."""

    def __init__(self, found: str, fix: str):
        super().__init__(found)
        self.finding = Finding("unreadable", found, "Nothing in it can be graded: every exercise scores 0.",
                               costs=True, fix=fix)


# --- the released notebook's structure ---------------------------------------------------------------

def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else (source or "")


def _norm(source) -> str:
    """A cell's source, compared without trailing spaces and blank lines at the ends."""
    return "\n".join(line.rstrip() for line in _text(source).strip().splitlines())


def _meta(cell) -> dict:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def _gid(cell) -> str | None:
    gid = _meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def _role(meta: dict) -> str:
    if meta.get("solution"):
        return "answer"
    if meta.get("grade"):
        return "test"
    return "locked"


def _python(source: str) -> str:
    """``source`` with IPython's own syntax (magics, shell escapes, ``x?``) turned into Python."""
    try:
        compile(source, "<cell>", "exec")
        return source  # plain Python (IPython is imported only when needed)
    except (SyntaxError, ValueError):
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - no IPython: blank the lines IPython would have transformed
        return "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in source.splitlines()) + "\n"


def _compiles(source: str) -> bool:
    """Whether ``source`` is valid on its own: Python (IPython's syntax allowed) that does not start
    indented (IPython would run an indented cell, dedented, but such a cell is the rest of another)."""
    first = next((line for line in source.splitlines() if line.strip()), "")
    if first[:1].isspace():
        return False
    try:
        compile(_python(source), "<cell>", "exec")
        return True
    except (SyntaxError, ValueError):
        return False


def defined_names(source) -> set[str]:
    """The names a code cell defines at its top level (functions, classes, assignments)."""
    text = _text(source)
    if text.lstrip().startswith("%%"):  # a cell magic (%%time, %%capture): its body is the code
        text = text.lstrip().split("\n", 1)[1] if "\n" in text.strip() else ""
    try:
        tree = ast.parse(_python(text))
    except (SyntaxError, ValueError):
        return set(re.findall(r"^(?:def|class)\s+(\w+)", text, re.M))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def manifest(release: dict, name: str = "") -> dict:
    """The nbgrader cells of a released notebook, in order: for each, its grade_id, role
    (``answer``, ``test`` or ``locked``), cell type, source, nbgrader metadata and, for an answer,
    the names its stub defines (``fit_gaussian``). Plain JSON (what the course ships)."""
    cells = []
    for cell in release["cells"]:
        meta = _meta(cell)
        if not meta.get("grade_id"):
            continue
        entry = dict(grade_id=meta["grade_id"], role=_role(meta), cell_type=cell["cell_type"],
                     source=_text(cell["source"]), nbgrader=dict(meta))
        if entry["role"] == "answer" and cell["cell_type"] == "code":
            entry["defines"] = sorted(defined_names(cell["source"]))
        cells.append(entry)
    return dict(notebook=name, cells=cells)


def load_manifest(assignment: str) -> dict:
    """The manifest the course ships for ``assignment`` (``genedu/checks/manifests/<assignment>.json``)."""
    path = MANIFESTS / f"{assignment}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in MANIFESTS.glob("*.json"))) or "none"
        raise ValueError(f"assignment={assignment!r}: no such assignment (the course has: {known})")
    return json.loads(path.read_text())


def shipped_manifests() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(MANIFESTS.glob("*.json"))}


# --- reading the file --------------------------------------------------------------------------------

def read_notebook(data: bytes) -> dict:
    """The notebook in a file's bytes, as a dict; raises :class:`Unreadable` with what is wrong."""
    save = ("Open the notebook in Jupyter, check that your answers are there, save it "
            "(File > Save Notebook) and submit that file.")
    if not data.strip():
        raise Unreadable(f"The file is empty ({len(data)} bytes).", save)
    try:
        nb = json.loads(data.decode("utf-8-sig", errors="replace"))  # a Windows editor's byte-order mark is fine
    except json.JSONDecodeError as err:
        raise Unreadable(f"The file is not a notebook: it is not valid JSON ({err.msg} at line {err.lineno}).",
                         save) from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        old = isinstance(nb, dict) and "worksheets" in nb
        raise Unreadable("The file is a notebook of an old format (nbformat 3)." if old else
                         "The file is JSON but not a notebook (it has no list of cells).", save)
    return nb


# --- the repair --------------------------------------------------------------------------------------

def _exercise(entry_or_gid, manifest_: dict) -> str:
    """How a cell is named to a student: "exercise 2's answer (ex2-answer)"."""
    gid = entry_or_gid if isinstance(entry_or_gid, str) else entry_or_gid["grade_id"]
    match = re.match(r"ex(\d+)-(answer|check|test)", gid)
    if match:
        what = "answer" if match[2] == "answer" else "test cell"
        return f"exercise {match[1]}'s {what} ({gid})"
    return f"the cell {gid}"


def _new_cell(nb: dict, cell_type: str, source: str, metadata: dict) -> dict:
    cell = dict(cell_type=cell_type, metadata=copy.deepcopy(metadata), source=source)
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    if nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) >= 5:
        cell["id"] = "slip-" + uuid.uuid4().hex[:8]
    return _like(nb, cell)


def _like(nb: dict, value: dict) -> dict:
    """``value`` as the same kind of mapping as ``nb`` (nbformat's nodes, when ``nb`` is one)."""
    if type(nb) is dict:
        return value
    from nbformat import from_dict
    return from_dict(value)


def _set_type(cell: dict, cell_type: str) -> None:
    cell["cell_type"] = cell_type
    if cell_type == "code":
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def _set_meta(nb: dict, cell: dict, entry: dict) -> None:
    cell.setdefault("metadata", _like(nb, {}))
    cell["metadata"]["nbgrader"] = _like(nb, copy.deepcopy(entry["nbgrader"]))
    _set_type(cell, entry["cell_type"])


def _outputs_size(nb: dict) -> int:
    return sum(len(json.dumps(c.get("outputs", []))) for c in nb["cells"] if c.get("cell_type") == "code")


def _defined_anywhere(cells: list, entry: dict) -> bool:
    """Whether one of ``cells`` (code) defines a name the answer ``entry`` defines."""
    names = set(entry.get("defines", []))
    return bool(names) and any(c.get("cell_type") == "code" and names & defined_names(c.get("source", ""))
                               and _meta(c).get("grade_id") != entry["grade_id"] for c in cells)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _verb(entries: list, one: str, many: str) -> str:
    return one if len(entries) == 1 else many


def _names(entries: list[dict], manifest_: dict) -> str:
    return ", ".join(_exercise(e, manifest_) for e in entries)


def repair(nb: dict, manifest_: dict) -> list[Finding]:
    """Repair the slips in ``nb`` (changed in place) so that it grades as the released notebook with
    the student's answers in it; returns what was found, in the order of :class:`Finding`'s slips.

    - a cell whose type was changed (Markdown and back, or left as Markdown) gets its release's type;
    - cells that lost their nbgrader metadata get it back, recognised by their content (a locked
      cell by its source, an answer by the function it defines, the last such cell winning as in a
      kernel); copies of a test cell are removed (one stays);
    - an answer cell split in two (the halves are valid Python only together) is joined;
    - a pasted answer cell keeps every copy (they run in order, as in the kernel; the last one is
      the answer cell);
    - a missing locked or test cell is put back from the release where it was; a missing answer
      cell is put back empty (a comment, so that nothing the student defined elsewhere is replaced);
      its exercise scores 0 unless its function is defined in another cell.
    """
    entries = manifest_["cells"]
    by_gid = {e["grade_id"]: e for e in entries}
    cells = nb["cells"]
    cells[:] = [c for c in cells if isinstance(c, dict)]   # what a hand-edited file may hold
    for cell in cells:
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = _like(nb, {})
        if not isinstance(cell.get("source", ""), (str, list)):
            cell["source"] = ""
    findings: list[Finding] = []

    size = _outputs_size(nb)
    if size > LARGE:
        findings.append(Finding("large-outputs", f"The notebook stores {size / 2 ** 20:.0f} MB of cell outputs.",
                                "They are cleared before grading; nothing is lost.",
                                fix="To make the file small: Edit > Clear Outputs of All Cells, then save."))

    # 1. a known cell whose type was changed
    toggled = []
    for cell in cells:
        entry = by_gid.get(_gid(cell))
        if entry and cell.get("cell_type") != entry["cell_type"]:
            _set_type(cell, entry["cell_type"])
            toggled.append(entry)
    if toggled:
        findings.append(Finding("cell-type", f"{_cap(_names(toggled, manifest_))} had "
                                f"{_verb(toggled, 'its type', 'their types')} changed (code to Markdown or back).",
                                f"{_verb(toggled, 'It is', 'They are')} graded as in the exercise notebook "
                                f"({', '.join(sorted({e['cell_type'] for e in toggled}))})."))

    # 2. cells without their nbgrader metadata, recognised by content
    present = {g for g in map(_gid, cells) if g in by_gid}
    restored, copies = [], []
    by_source = {}
    for e in entries:
        if e["role"] != "answer":
            by_source.setdefault(_norm(e["source"]), e)
    for cell in cells:
        if _gid(cell):
            continue
        entry = by_source.get(_norm(cell.get("source", "")))
        if entry is None:
            continue
        if entry["grade_id"] not in present:
            _set_meta(nb, cell, entry)
            present.add(entry["grade_id"])
            restored.append(entry)
        elif entry["role"] == "test":
            copies.append(cell)
    for entry in entries:
        if entry["role"] != "answer" or entry["grade_id"] in present or not entry.get("defines"):
            continue
        candidates = [c for c in cells if c.get("cell_type") == "code" and not _gid(c)
                      and set(entry["defines"]) & defined_names(c.get("source", ""))]
        if candidates:
            _set_meta(nb, candidates[-1], entry)
            present.add(entry["grade_id"])
            restored.append(entry)
    if restored:
        findings.append(Finding("metadata-lost", f"{_verb(restored, 'A cell', f'{len(restored)} cells')} had lost "
                                "the nbgrader metadata (an editor that drops it, such as VS Code, or a cell "
                                f"retyped): {_names(restored, manifest_)}.",
                                f"{_verb(restored, 'It was', 'They were')} recognised by content and "
                                f"{_verb(restored, 'is graded as that cell', 'are graded as those cells')}.",
                                fix="Edit the exercise notebook in Jupyter (JupyterLab or Notebook)."))

    # 3. an answer split in two
    i = 0
    while i < len(cells) - 1:
        a, b = cells[i], cells[i + 1]
        gid = _gid(a)
        first, second = _text(a.get("source", "")), _text(b.get("source", ""))
        if (gid is not None and gid == _gid(b) and by_gid.get(gid, {}).get("role") == "answer"
                and a.get("cell_type") == b.get("cell_type") == "code"
                and not (_compiles(first) and _compiles(second)) and _compiles(first + "\n" + second)):
            a["source"] = first + "\n" + second
            del cells[i + 1]
            findings.append(Finding("split-answer", f"{_cap(_exercise(gid, manifest_))} was "
                                    "split into two cells that are valid Python only together.",
                                    "They are joined into one cell and graded as one."))
            continue
        i += 1

    # 4. cells that appear more than once (pasted)
    seen: dict[str, list[dict]] = {}
    for cell in cells:
        if _gid(cell) in by_gid:
            seen.setdefault(_gid(cell), []).append(cell)
    pasted = []
    for gid, twins in seen.items():
        if len(twins) < 2:
            continue
        pasted.append(by_gid[gid])
        if by_gid[gid]["role"] == "test":      # a test's copies only call its checks: one is judged
            copies += twins[1:]
        else:                                  # every copy runs, as in the kernel; the last one is graded
            for twin in twins[:-1]:
                del twin["metadata"]["nbgrader"]
    if copies:
        ids = {id(c) for c in copies}
        cells[:] = [c for c in cells if id(c) not in ids]
    if pasted:
        tests = [e for e in pasted if e["role"] == "test"]
        done = []
        if tests:
            done.append(f"{_verb(tests, 'The test is', 'Each test is')} judged once")
        if len(tests) < len(pasted):
            done.append("every copy of another cell runs in order, as in your kernel, and the last copy is graded")
        findings.append(Finding("pasted", f"{_cap(_names(pasted, manifest_))} "
                                f"{_verb(pasted, 'appears', 'appear')} more than once (a cell copied and pasted).",
                                _cap("; ".join(done)) + "."))

    # 5. cells that are not there
    position = {}
    missing = []
    for index, entry in enumerate(entries):
        at = [i for i, c in enumerate(cells) if _gid(c) == entry["grade_id"]]
        if at:
            position[entry["grade_id"]] = at[-1]
            continue
        before = [position[e["grade_id"]] for e in entries[:index] if e["grade_id"] in position]
        where = max(before) + 1 if before else 0
        if entry["role"] == "answer":
            source = (f"# {_exercise(entry, manifest_)} was not in the submitted notebook; "
                      "the grader put this empty cell back.\n")
        else:
            source = entry["source"]
        cells.insert(where, _new_cell(nb, entry["cell_type"], source, {"nbgrader": entry["nbgrader"]}))
        for gid, pos in position.items():
            if pos >= where:
                position[gid] = pos + 1
        position[entry["grade_id"]] = where
        missing.append(entry)
    lost = [e for e in missing if e["role"] == "answer"]
    kept = [e for e in missing if e["role"] != "answer"]
    if lost and len(lost) == sum(e["role"] == "answer" for e in entries) and len(missing) == len(entries):
        findings.append(Finding("not-this-notebook", "None of this assignment's cells are in the notebook: it is "
                                "empty, or another notebook.", "Every exercise scores 0.", costs=True,
                                fix=f"Submit the exercise notebook {manifest_.get('notebook', '')}.ipynb with "
                                "your answers."))
    else:
        if kept:
            findings.append(Finding("missing-cell", f"{_cap(_names(kept, manifest_))} "
                                    f"{_verb(kept, 'was', 'were')} not in the notebook (deleted).",
                                    f"{_verb(kept, 'It is', 'They are')} put back from the exercise notebook; "
                                    "deleting a read-only cell neither gains nor costs marks."))
        for entry in lost:
            names = " or ".join(f"`{n}`" for n in entry.get("defines", [])) or "the answer"
            if _defined_anywhere(cells, entry):
                findings.append(Finding("missing-answer", f"{_cap(_exercise(entry, manifest_))} is not in the "
                                        f"notebook, but another cell defines {names}.",
                                        "That definition is graded."))
                continue
            findings.append(Finding("missing-answer", f"{_cap(_exercise(entry, manifest_))} is not in the "
                                    f"notebook, and no cell defines {names}.",
                                    "That exercise scores 0.", costs=True,
                                    fix="Put your answer back into its cell (or redo the exercise) and save."))

    # 6. what is in place but will not get marks, and what is out of order but will
    for entry in entries:
        if entry["role"] == "answer" and entry not in lost:
            cell = next(c for c in cells if _gid(c) == entry["grade_id"])
            if (STUB in _text(cell.get("source", "")) and "# YOUR CODE HERE" in _text(cell.get("source", ""))
                    and not _defined_anywhere(cells[cells.index(cell) + 1:], entry)):
                findings.append(Finding("unanswered", f"{_cap(_exercise(entry, manifest_))} is not written "
                                        "yet: its cell still raises NotImplementedError.",
                                        "That exercise scores 0.", costs=True))
    order = {e["grade_id"]: i for i, e in enumerate(entries)}
    moved = []
    for i, cell in enumerate(cells):
        entry = by_gid.get(_gid(cell))
        if entry and entry["role"] == "test":
            answers = [e for e in entries[:order[entry["grade_id"]]] if e["role"] == "answer"]
            if answers and position.get(answers[-1]["grade_id"], -1) > i:
                moved.append(entry)
    if moved:
        findings.append(Finding("test-above-answer", f"{_cap(_names(moved, manifest_))} "
                                f"{_verb(moved, 'is above the answer it checks', 'are above the answers they check')}.",
                                "The grader judges every test after the whole notebook has run, so "
                                f"{_verb(moved, 'it is', 'they are')} graded as usual.",
                                fix="When you run the notebook from the top, a self-check above its answer fails "
                                "because the answer has not run yet: move it back below its answer."))
    return findings


# --- the notes the grader writes into the notebook ---------------------------------------------------

def notes_cell(nb: dict, findings: list[Finding], extra: list[str] = ()) -> dict:
    """A Markdown cell that tells the student what the grader found and did (for the top of the
    graded notebook, so that the feedback shows it)."""
    lines = ["**The grader's notes on this notebook**: what it found, and what it did about it. Your answers "
             "are graded as if a slip had not happened, unless a note says that an exercise scores 0.", ""]
    lines += [f"- {text}" for text in extra]
    lines += [f"- {f.line()}" for f in findings]
    return _new_cell(nb, "markdown", "\n".join(lines), {NOTES_MARK: True})


# --- the students' check -----------------------------------------------------------------------------

def guess_assignment(nb: dict, manifests: dict[str, dict]) -> str | None:
    """The assignment whose locked cells most of ``nb``'s cells are (None if none is)."""
    sources = {_norm(c.get("source", "")) for c in nb.get("cells", [])}
    best, score = None, 0
    for name, m in manifests.items():
        hits = sum(_norm(e["source"]) in sources for e in m["cells"] if e["role"] != "answer")
        if hits > score:
            best, score = name, hits
    return best


def diagnose(path, assignment: str | None = None) -> tuple[str, list[Finding]]:
    """(assignment, findings) for the notebook file at ``path``, found as the grader finds them.
    The assignment is ``assignment``, else the one whose file name ``path`` has (a browser's
    ``" (1)"`` or a learning-management system's prefix allowed), else the one whose cells it holds."""
    path = Path(path)
    manifests = shipped_manifests()
    findings: list[Finding] = []
    if assignment is not None:
        load_manifest(assignment)  # a clear error for a wrong name
    try:
        nb = read_notebook(path.read_bytes())
    except Unreadable as err:
        return assignment or _by_name(path.name, manifests) or "", [err.finding]
    name = assignment or _by_name(path.name, manifests) or guess_assignment(nb, manifests)
    if name is None:
        return "", [Finding("not-this-notebook", "The notebook holds none of the course's exercise notebooks' "
                            "cells.", "It would score 0.", costs=True,
                            fix="Submit the exercise notebook from the notebooks/ folder, with your answers.")]
    if path.name != f"{name}.ipynb":
        findings.append(Finding("file-name", f"The file is named {path.name!r}, not {name + '.ipynb'!r}.",
                                "A submission folder's only notebook is graded under the assignment's name, "
                                "whatever it is called.", fix=f"To be safe, rename it to {name}.ipynb."))
    found = guess_assignment(nb, manifests)
    if found and found != name:
        findings.append(Finding("other-assignment", f"This is the notebook of {found}, not of {name}.",
                                f"Submitted as {name}, every exercise would score 0.", costs=True,
                                fix=f"Submit the notebook of {name}."))
        return name, findings
    return name, findings + repair(copy.deepcopy(nb), manifests[name])


def _by_name(file_name: str, manifests: dict) -> str | None:
    stem = Path(file_name).stem
    for name in manifests:
        if stem == name or re.search(rf"(^|_){re.escape(name)}(-\d+| \(\d+\))*$", stem):
            return name
    return None


def report(path, assignment: str | None = None) -> tuple[bool, str]:
    """(whether every exercise will be graded, the report's text) for the notebook at ``path``."""
    path = Path(path)
    name, findings = diagnose(path, assignment)
    costs = [f for f in findings if f.costs]
    head = f"{path.name}"
    if not costs:
        lines = [f"{head}: this notebook will grade as it stands."]
    else:
        lines = [f"{head}: {len(costs)} problem{'s' if len(costs) > 1 else ''} will cost marks:"]
    lines += [f"  - {f.line()}" for f in costs]
    notes = [f for f in findings if not f.costs]
    if notes:
        lines.append("Slips the grader repairs (no marks lost):")
        lines += [f"  - {f.line()}" for f in notes]
    lines.append("(This checks the saved file: save the notebook first. Whether your answers are right is what "
                 "the exercises' self-checks tell you.)")
    return not costs, "\n".join(lines)


def check_submission(path: str | None = None, assignment: str | None = None) -> bool:
    """Print whether the notebook file at ``path`` will grade as it stands, or what will cost marks
    and how to fix it; returns True when nothing will. The exercise notebooks' last cell calls it
    with their own file name; the grader runs the same repair on the submission."""
    if path is None or not Path(path).is_file():
        where = Path.cwd()
        what = "no file was named" if path is None else f"{str(path)!r} is not a file in {where}"
        print(f"check_submission: {what}. Save the notebook, then call "
              "check_submission('NOTEBOOK.ipynb') with its file name (in Colab: File > Download > .ipynb, and "
              "run `python -m genedu.checks.submission NOTEBOOK.ipynb` where you saved it).")
        return False
    ok, text = report(path, assignment)
    print(text)
    return ok


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m genedu.checks.submission",
                                     description="Say whether exercise notebooks will grade as they stand, "
                                                 "or what will cost marks and how to fix it.")
    parser.add_argument("notebooks", nargs="+", help="the .ipynb files to check")
    parser.add_argument("--assignment", help="the assignment (default: from the file's name or its cells)")
    args = parser.parse_args(argv)
    results = []
    for path in args.notebooks:
        results.append(check_submission(path, args.assignment))
        print()
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
