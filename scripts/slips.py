"""The slips students make in Jupyter, as submissions of any chapter (tests/test_slips.py and the
grading batches use them; see genedu/checks/submission.py for what the grader does about each).

Each slip is a function ``(release, solved) -> (notebook dict, or bytes, file name or None)`` applied
to the solutions: every slip but those that lose the file must still get full marks.

    python scripts/slips.py ASSIGNMENT DIR     # write each slip as DIR/submitted/slip-<name>/...
"""
from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import fill_answers, solved_answers  # noqa: E402


def _role(cell) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return "answer" if meta.get("solution") else "test" if meta.get("grade") else "locked" if meta else ""


def _ids(seed: int = 0):
    rng = random.Random(seed)
    while True:
        yield "".join(rng.choice("0123456789abcdef") for _ in range(8))


def _plain(nb) -> dict:
    """A copy of ``nb`` as plain dicts, every source a str (a saved file's sources are lists of lines)."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return nb


def _cells(nb, role):
    return [c for c in nb["cells"] if _role(c) == role]


def _tested(nb) -> list[tuple[dict, dict]]:
    """(answer cell, the test cell after it) pairs."""
    pairs, answer = [], None
    for cell in nb["cells"]:
        if _role(cell) == "answer":
            answer = cell
        elif _role(cell) == "test" and answer is not None:
            pairs.append((answer, cell))
            answer = None
    return pairs


def pasted_test(nb, ids):
    """The issue's case: the first test cell copied and pasted below itself (same metadata, new id)."""
    test = _cells(nb, "test")[0]
    twin = copy.deepcopy(test)
    twin["id"] = next(ids)
    nb["cells"].insert(nb["cells"].index(test) + 1, twin)


def split_answer(nb, ids, cells=None):
    """Answer cells split in two in the middle of their function (JupyterLab's Split Cell: both
    halves keep the metadata): neither half is valid Python alone."""
    for cell in cells or _cells(nb, "answer"):
        lines = cell["source"].splitlines(keepends=True)
        cut = next((i for i, line in enumerate(lines) if i > 0 and line.startswith("    ") and line.strip()
                    and not line.strip().startswith(('"""', "#"))), None)
        if cut is None:
            continue
        second = copy.deepcopy(cell)
        second["id"] = next(ids)
        cell["source"], second["source"] = "".join(lines[:cut]).rstrip("\n"), "".join(lines[cut:])
        nb["cells"].insert(nb["cells"].index(cell) + 1, second)


def test_above_answer(nb, ids, pairs=None):
    """Test cells moved above the answer they check."""
    for answer, test in pairs or _tested(nb):
        nb["cells"].remove(test)
        nb["cells"].insert(nb["cells"].index(answer), test)


def toggled_answer(nb, ids, cells=None):
    """Answer cells changed to Markdown and back to code by an editor that dropped their metadata."""
    for cell in cells or _cells(nb, "answer"):
        cell["metadata"] = {}
        cell["outputs"], cell["execution_count"] = [], None


def test_left_markdown(nb, ids, cells=None):
    """Test cells changed to Markdown (metadata kept) and left so."""
    for cell in cells or _cells(nb, "test"):
        cell["cell_type"] = "markdown"
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def answer_moved(nb, ids, cells=None):
    """Each answer written in a new cell at the end of the notebook, its answer cell deleted."""
    for cell in cells or _cells(nb, "answer"):
        nb["cells"].remove(cell)
        nb["cells"].append(dict(cell_type="code", id=next(ids), metadata={}, source=cell["source"], outputs=[],
                                execution_count=None))


def vscode(nb, ids):
    """Saved by an editor that drops every cell's metadata."""
    for cell in nb["cells"]:
        cell["metadata"] = {}


def colab(nb, ids):
    """Saved by Colab: nbformat 4.0 (no cell ids), Colab's own metadata on the notebook and each cell."""
    nb["nbformat_minor"] = 0
    nb["metadata"] = {"colab": {"provenance": [], "name": "copy"}, "kernelspec": {"name": "python3",
                      "display_name": "Python 3"}, "language_info": {"name": "python"}}
    for cell in nb["cells"]:
        cell.pop("id", None)
        cell["metadata"] = {"id": next(ids), **cell.get("metadata", {})}
        if cell["cell_type"] == "code":
            cell["metadata"]["colab"] = {"base_uri": "https://localhost:8080/"}


def big_outputs(nb, ids, megabytes: int = 30):
    """Megabytes of stored outputs (an image printed over and over) in a cell that is not graded."""
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and not _role(c))
    png = "iVBORw0KGgo" + "A" * (megabytes * 2 ** 20 // 20)
    cell["outputs"] = [{"output_type": "display_data", "data": {"image/png": png, "text/plain": "<Figure>"},
                        "metadata": {}} for _ in range(20)]


# name -> (what, transform, file name or None); the transforms that take cells may be given a subset
SLIPS = {
    "pasted-test": ("a test cell copied and pasted below itself (the issue's case: 0 of 14 before)", pasted_test),
    "split-answer": ("every answer cell split in two mid-function, both halves with its metadata", split_answer),
    "test-above-answer": ("every test cell moved above its answer", test_above_answer),
    "toggled-answer": ("every answer cell changed to Markdown and back, its metadata lost", toggled_answer),
    "test-left-markdown": ("every test cell changed to Markdown and left so", test_left_markdown),
    "answer-moved": ("every answer written in a new cell at the end, the answer cells deleted", answer_moved),
    "vscode": ("saved by an editor that drops all cell metadata", vscode),
    "colab": ("saved by Colab (nbformat 4.0, no cell ids, Colab's metadata)", colab),
    "big-outputs": ("30 MB of stored outputs", big_outputs),
}


def slipped(release, source, *names: str, seed: int = 0) -> dict:
    """The solutions with the named slips applied, in order (a plain dict)."""
    nb = _plain(fill_answers(release, solved_answers(source)))
    ids = _ids(seed)
    for name in names:
        SLIPS[name][1](nb, ids)
    return nb


def packed(release, source, seed: int = 0, notebook=None) -> dict:
    """Every slip that can share a notebook, the per-exercise ones dealt out over the exercises: saved
    by Colab, with 12 MB of outputs, the first test pasted, and in turn each exercise's answer split,
    its test above it, its answer toggled (metadata lost), its test left as Markdown, its answer
    moved to the end. Applied to the solutions, or to ``notebook`` (a submission of them, e.g. with
    the honest habits of scripts/hostile.py). Full marks."""
    nb = _plain(notebook if notebook is not None else fill_answers(release, solved_answers(source)))
    ids = _ids(seed)
    pairs = _tested(nb)
    for i, (answer, test) in enumerate(pairs):
        kind = i % 5
        if kind == 0:
            split_answer(nb, ids, [answer])
        elif kind == 1:
            test_above_answer(nb, ids, [(answer, test)])
        elif kind == 2:
            toggled_answer(nb, ids, [answer])
        elif kind == 3:
            test_left_markdown(nb, ids, [test])
        else:
            answer_moved(nb, ids, [answer])
    pasted_test(nb, ids)
    big_outputs(nb, ids, megabytes=12)  # above the 10 MB the grader notes; 30 MB costs every batch seconds
    colab(nb, ids)
    return nb


def as_bytes(nb: dict) -> bytes:
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def final_definitions(nb) -> dict[str, str]:
    """name -> the last top-level def/class of that name that running the notebook's code cells in
    order defines, one cell at a time as a kernel runs them (IPython's syntax allowed), test cells
    left out; a cell that is not valid Python defines nothing."""
    import ast

    from genedu.checks.submission import _python
    defs = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or _role(cell) == "test":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if source.lstrip().startswith("%%"):
            source = source.lstrip().split("\n", 1)[-1]
        try:
            tree = ast.parse(_python(source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defs[node.name] = ast.dump(node)
    return defs


def main() -> None:
    import nbformat
    from course import ROOT
    name, out = sys.argv[1], Path(sys.argv[2])
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    cases = {f"slip-{n}": as_bytes(slipped(release, source, n)) for n in SLIPS}
    cases["slip-packed"] = as_bytes(packed(release, source))
    cases["slip-empty-file"] = b""
    cases["slip-no-cells"] = as_bytes(dict(cells=[], metadata={}, nbformat=4, nbformat_minor=5))
    names = {"slip-renamed": f"{name} (1).ipynb"}
    cases["slip-renamed"] = as_bytes(slipped(release, source))
    for student, content in cases.items():
        folder = out / "submitted" / student / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / names.get(student, f"{name}.ipynb")).write_bytes(content)
    print(json.dumps({s: len(c) for s, c in cases.items()}, indent=1))


if __name__ == "__main__":
    main()
