"""Broken and hostile submissions of an assignment, generated from its released notebook.

The grader's self-test (tests/test_grader_hostile.py) grades these in one batch with honest
submissions; ``python scripts/hostile.py ASSIGNMENT DIR`` writes them as
``DIR/submitted/<case>/<ASSIGNMENT>/<ASSIGNMENT>.ipynb`` to try by hand.

Every case is a :class:`Case`: the bytes of the submitted file (or ``None``: no notebook), and
what grading it must give:

- ``zero``: graded cells that must score 0 (the cells the attack targets, and every cell it could reach);
- ``full``: graded cells that must keep full marks (honest work the attack cannot reach);
- ``below_max``: the total must stay below full marks.

The attacked exercise is the first one (its answer cell ``A`` and the graded cell ``T`` after it);
``A`` is made *wrong* in the cases where the attack tries to win marks a wrong answer would not
(patching the check, editing the test), so that only a working attack could give ``T`` marks.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import ROOT, fill_answers, grade_ids, solved_answers  # noqa: E402


@dataclass
class Case:
    student: str
    what: str                       # one line for the table of cases
    content: bytes | None           # the submitted file; None: the notebook is missing
    zero: set[str] = field(default_factory=set)
    full: set[str] = field(default_factory=set)
    below_max: bool = True
    honest: bool = False


def defined_function(source: str) -> str:
    match = re.search(r"^def (\w+)\(", source, re.M)
    return match.group(1) if match else ""


def tested_by(release) -> dict[str, str]:
    """answer grade_id -> the first graded cell after it (the cell that tests it)."""
    order = [(c.metadata["nbgrader"]["grade_id"], c.metadata["nbgrader"]) for c in release.cells if "nbgrader" in c.metadata]
    found = {}
    for i, (gid, meta) in enumerate(order):
        if meta.get("solution") and not meta.get("grade"):
            nxt = next((g for g, m in order[i + 1:] if m.get("grade")), None)
            if nxt:
                found[gid] = nxt
    return found


def library_function(name: str) -> str | None:
    """The genedu module (outside checks/widgets) that defines a function called ``name``, if any."""
    import genedu
    for info in pkgutil.walk_packages(genedu.__path__, "genedu."):
        if ".checks" in info.name or ".widgets" in info.name or info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - a module that needs something optional
            continue
        if callable(getattr(module, name, None)):
            return info.name
    return None


def _bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


def _wrong(source: str) -> str:
    """The answer with its function's outputs scaled (wrong for every check)."""
    name = defined_function(source)
    return source + (
        "\n\ndef _scaled(fn):\n"
        "    def wrong(*args, **kwargs):\n"
        "        out = fn(*args, **kwargs)\n"
        "        if isinstance(out, torch.Tensor) and out.is_floating_point():\n"
        "            return out * 1.1 + 0.1\n"
        "        if isinstance(out, tuple):\n"
        "            return tuple(o * 1.1 + 0.1 if isinstance(o, torch.Tensor) and o.is_floating_point() else o for o in out)\n"
        "        return out\n"
        "    return wrong\n\n"
        f"{name} = _scaled({name})\n")


# Hand-written "disguised" reference calls the static guard cannot see (they go through an object
# the answer is given); the checks' run-time hook must refuse them.
DISGUISED_REFERENCE = {
    "ch03_vae": ("ex4-answer", "def vae_forward(model, x, generator=None):\n    return model(x)\n"),
}


def corpus(name: str, release, source, other_release=None) -> list[Case]:
    """The cases for assignment ``name`` (``release``: the student notebook; ``source``: the
    instructor's; ``other_release``: another chapter's student notebook)."""
    solved = solved_answers(source)
    tests = tested_by(release)
    graded = [gid for gid, c in grade_ids(release).items() if c.metadata["nbgrader"].get("grade")]
    answer = next(iter(tests))
    target = tests[answer]
    rest = set(graded) - {target}
    fname = defined_function(solved[answer])
    cases: list[Case] = []

    def sub(answers: dict[str, str]):
        return fill_answers(release, answers)

    def with_answer(src: str):
        return sub({**solved, answer: src})

    def case(student, what, nb_or_bytes, zero=(), full=(), below_max=True, honest=False):
        content = nb_or_bytes if isinstance(nb_or_bytes, (bytes, type(None))) else _bytes(nb_or_bytes)
        cases.append(Case(student, what, content, set(zero), set(full), below_max, honest))

    case("honest-solved", "every answer is the solution", sub(solved), full=graded, below_max=False, honest=True)
    case("honest-one-wrong", f"honest, one wrong answer ({answer})", with_answer(_wrong(solved[answer])),
         zero={target}, full=rest, honest=True)
    # -- broken answers -------------------------------------------------------------------------
    indent_raise = f"def {fname}(*args, **kwargs):\n    raise ValueError('my answer is broken')\n"
    case("raises", "the answer raises", with_answer(indent_raise), zero={target}, full=rest)
    case("endless-loop", "the answer loops forever (the per-cell timeout interrupts it)",
         with_answer(f"def {fname}(*args, **kwargs):\n    while True:\n        pass\n"), zero={target}, full=rest)
    case("sys-exit", "`sys.exit()` in the answer", with_answer("import sys\nsys.exit()\n" + solved[answer]),
         zero={target}, full=rest)
    case("os-exit", "`os._exit(1)` in the answer", with_answer(
        f"def {fname}(*args, **kwargs):\n    import os\n    os._exit(1)\n"), zero={target}, full=rest)
    case("os-kill", "`os.kill(os.getpid(), 9)` in the answer", with_answer(
        f"def {fname}(*args, **kwargs):\n    import os\n    os.kill(os.getpid(), 9)\n"), zero={target}, full=rest)
    # exit() is IPython's: it passes the static guard and really ends the kernel while T runs;
    # nbgrader then fails the notebook, and every cell from T on scores 0.
    case("kernel-exit", "`exit()` in the answer (passes the guard; the kernel dies during the test)",
         with_answer(f"def {fname}(*args, **kwargs):\n    exit()\n"), zero={target})
    case("memory", "the answer allocates 1 TiB, then 100 x 1 GiB", with_answer(
        f"def {fname}(*args, **kwargs):\n    try:\n        torch.empty(2 ** 40, dtype=torch.uint8)\n"
        "    except (RuntimeError, MemoryError):\n        pass\n"
        "    return [torch.empty(2 ** 30, dtype=torch.uint8) for _ in range(100)]\n"), zero={target}, full=rest)
    case("prints-megabytes", "a correct answer that prints 20 MB (output is truncated)", with_answer(
        solved[answer] + "\nfor _ in range(200_000):\n    print('x' * 100)\n"), full=graded, below_max=False)
    # -- the notebook's structure -----------------------------------------------------------------
    nb = with_answer(_wrong(solved[answer]))
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != target]
    case("deleted-test", "wrong answer, its test cell deleted (nbgrader puts it back)", nb, zero={target}, full=rest)
    nb = with_answer(_wrong(solved[answer]))
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == target:
            c.cell_type = "markdown"
            c.pop("outputs", None)
            c.pop("execution_count", None)
    case("test-as-markdown", "wrong answer, its test cell turned into Markdown", nb, zero={target}, full=rest)
    nb = with_answer(_wrong(solved[answer]))
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == target:
            c.source = "pass  # the test, edited away"
    case("edited-test", "wrong answer, its read-only test cell edited to `pass`", nb, zero={target}, full=rest)
    nb = sub(solved)
    cells = list(nb.cells)
    for a, t in tests.items():  # every test cell moved before its answer cell
        ia = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == a)
        it = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == t)
        cells.insert(ia, cells.pop(it))
    nb.cells = cells
    case("reordered", "every test cell moved above its answer", nb, zero=set(tests.values()))
    # -- cheating -----------------------------------------------------------------------------
    module = library_function(fname)
    if module:
        case("calls-reference", f"the answer calls genedu's `{module}.{fname}`", with_answer(
            f"def {fname}(*args, **kwargs):\n    import {module}\n    return {module}.{fname}(*args, **kwargs)\n"),
            zero={target}, full=rest)
        case("patches-reference", f"a wrong answer that replaces `{module}.{fname}` by itself", with_answer(
            _wrong(solved[answer]) + f"\nimport {module}\n{module}.{fname} = {fname}\n"), zero={target}, full=rest)
    if name in DISGUISED_REFERENCE:
        gid, src = DISGUISED_REFERENCE[name]
        case("disguised-reference", f"`{src.strip().splitlines()[-1].strip()}` (the check's run-time hook)",
             sub({**solved, gid: src}), zero={tests[gid]}, full=set(graded) - {tests[gid]})
    check = next((n for n in re.findall(r"^(check_\w+)\(", grade_ids(release)[target].source, re.M)), None)
    if check:
        case("patches-check", f"a wrong answer that rebinds `{check}`", with_answer(
            _wrong(solved[answer]) + f"\n{check} = lambda *args, **kwargs: None\n"), zero={target}, full=rest)
        case("patches-check-module", "a wrong answer that patches genedu.checks' `compare` and `fail`", with_answer(
            _wrong(solved[answer]) + "\nimport genedu.checks._core as core\ncore.compare = core.fail = "
            "lambda *args, **kwargs: None\n"), zero={target}, full=rest)
    case("patches-allclose", "a wrong answer that replaces torch.allclose and torch.testing.assert_close",
         with_answer(_wrong(solved[answer]) + "\ntorch.allclose = lambda *args, **kwargs: True\n"
                     "torch.testing.assert_close = lambda *args, **kwargs: None\n"
                     "torch.isclose = lambda a, b, **kwargs: torch.ones_like(a, dtype=torch.bool)\n"),
         zero={target}, full=rest)
    case("magic-shell", "a wrong answer with a shell escape and a magic", with_answer(
        _wrong(solved[answer]) + "\n!ls /\n%env X=1\n"), zero={target}, full=rest)
    # -- the file ---------------------------------------------------------------------------------
    case("corrupted-json", "the .ipynb is not valid JSON", _bytes(sub(solved))[:-200] + b"{{{", zero=set(graded))
    case("missing-notebook", "the submission folder holds no notebook", None, zero=set(graded))
    if other_release is not None:
        case("other-chapter", "another chapter's notebook under this chapter's name", _bytes(other_release),
             zero=set(graded))
    return cases


def write(course: Path, name: str, cases: list[Case]) -> None:
    """Write the cases as submissions of ``name`` in course directory ``course``."""
    for c in cases:
        folder = course / "submitted" / c.student / name
        folder.mkdir(parents=True, exist_ok=True)
        if c.content is not None:
            (folder / f"{name}.ipynb").write_bytes(c.content)
        else:
            (folder / "notes.txt").write_text("I forgot the notebook\n")


def main() -> None:
    name, out = sys.argv[1], Path(sys.argv[2])
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    others = [p for p in sorted((ROOT / "notebooks").glob("*/*.ipynb")) if p.parent.name != name]
    other = nbformat.read(others[0], as_version=4) if others else None
    cases = corpus(name, release, source, other)
    write(out, name, cases)
    print(json.dumps({c.student: c.what for c in cases}, indent=1))


if __name__ == "__main__":
    main()
