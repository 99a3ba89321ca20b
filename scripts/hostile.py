"""The submissions the grader is tested against: hostile and broken ones, and honest ones.

Generated from an assignment's released and source notebooks, for any chapter:

- :func:`hostile_cases` and :func:`honest_cases`: one submission per case (``Case``: the bytes of
  the submitted file, or ``None`` for a folder without a notebook, and what grading must give);
- :func:`hostile_notebooks` and :func:`honest_notebooks`: the same attacks and habits packed
  several to a notebook, one per answer cell (an attack may only cost its own exercise, so a
  notebook can hold one per exercise), so that every chapter runs both corpora quickly.

    python scripts/hostile.py ASSIGNMENT DIR      # write the cases as DIR/submitted/<case>/...

What a case expects:

- ``zero``: graded cells that must score 0 (the attacked exercise: its answer is also made *wrong*
  where the attack tries to win marks a wrong answer would not get, so that only a working attack
  could give it marks);
- ``full``: graded cells that must keep full marks (everything the attack cannot reach);
- ``below_max``: the total must stay below full marks.

A marker file (``PWNED``) names the path an attack would create *in the grader* if any of its code
ran there (a pickle payload, say); the tests check that it never appears.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import ROOT, fill_answers, grade_ids, solved_answers  # noqa: E402

PWNED = Path(tempfile.gettempdir()) / "genedu-grader-PWNED"
SECRET = "GENEDU_TEST_SECRET_TOKEN"   # set in the grader's environment by the tests; must never reach a student


@dataclass
class Case:
    student: str
    what: str                       # one line for the table of cases
    content: bytes | None           # the submitted file; None: the notebook is missing
    zero: set[str] = field(default_factory=set)
    full: set[str] = field(default_factory=set)
    below_max: bool = True
    honest: bool = False
    filename: str | None = None     # the notebook's file name; None: the assignment's


def defined_name(source: str) -> str:
    """The function (or class) an answer cell defines."""
    match = re.search(r"^(?:def|class) (\w+)", source, re.M)
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
    """The genedu module (outside checks/widgets/plot) that defines a function called ``name``, if any."""
    import genedu
    for info in pkgutil.walk_packages(genedu.__path__, "genedu."):
        if any(part in info.name for part in (".checks", ".widgets", ".plot")) or info.name.endswith("__main__"):
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


def wrong(source: str) -> str:
    """The answer with its function's floating-point outputs scaled (wrong for every check)."""
    name = defined_name(source)
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


def explicit_wrong_answers(name: str) -> dict[str, str]:
    """``solutions/<name>/wrong_answers.py``'s WRONG_ANSWERS (answers a generic change cannot break:
    one that returns a model or integers, say), if it has one."""
    path = ROOT / "solutions" / name / "wrong_answers.py"
    if not path.exists():
        return {}
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["WRONG_ANSWERS"]


def wrong_answers(name: str, solved: dict[str, str]) -> dict[str, str]:
    """A wrong version of every answer: the explicit one, else the generic :func:`wrong`."""
    explicit = explicit_wrong_answers(name)
    return {gid: explicit.get(gid) or wrong(src) for gid, src in solved.items()}


# --- attacks on one answer: (name, what, builder(solution, fname, wrong answer) -> answer source) ---------

_REPLACE_CHECKS = '''
import pkgutil
_main = pkgutil.resolve_name("_" + "_main__")
{replace}
for _space in [_main] + [m for n, m in list(pkgutil.resolve_name("sy" + "s").modules.items()) if n.startswith("genedu.checks")]:
    for _n in list(vars(_space)):
        if _n.startswith("check_") or _n in ("compare", "fail", "call", "expect_tensor", "close"):
            setattr(_space, _n, _fake)
'''

_PATCH_WHILE_RUNNING = '''
def {f}(*args, **kwargs):
    import pkgutil
    import torch
    core = pkgutil.resolve_name("genedu.checks._core")
    names = ("compare", "fail", "close", "expect_tensor", "expect_tuple", "expect_number")
    saved = [getattr(core, n) for n in names] + [torch.isclose, torch.allclose, torch.equal]
    for name in names:
        setattr(core, name, lambda *a, **k: a[0] if a else None)
    torch.isclose = lambda a, b, **k: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
    torch.allclose = lambda *a, **k: True
    torch.equal = lambda *a, **k: True
    try:
        return _inner(*args, **kwargs)
    finally:  # only while it runs: the notebook's other answers are left as they were
        for name, value in zip(names, saved):
            setattr(core, name, value)
        torch.isclose, torch.allclose, torch.equal = saved[-3:]
'''

_PICKLE_FRAMES = '''
def {f}(*args, **kwargs):
    import os, pickle, struct
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch {pwned}",))
    data = pickle.dumps(("ret", Payload(), [], 0))
    for fd in range(3, 256):
        try:
            os.write(fd, struct.pack(">Q", len(data)) + data)
        except OSError:
            pass
    return Payload()
'''

_SUBCLASS = '''
class _Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("isclose", "allclose", "equal", "eq", "__eq__"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {{}})


def {f}(*args, **kwargs):
    out = _inner(*args, **kwargs)
    if isinstance(out, torch.Tensor):
        return out.as_subclass(_Liar)
    if isinstance(out, tuple):
        return tuple(o.as_subclass(_Liar) if isinstance(o, torch.Tensor) else o for o in out)
    return out
'''


def _rename(source: str, fname: str, new: str) -> str:
    return re.sub(rf"^(def|class) {fname}\b", rf"\1 {new}", source, count=1, flags=re.M)


def _wrapping(template: str):
    """An attack that wraps the (wrong) answer, renamed ``_inner``."""
    def build(solution, fname, wrong_source):
        return _rename(wrong_source, fname, "_inner").replace(f"{fname} = _scaled({fname})",
                                                              "_inner = _scaled(_inner)") \
            + template.format(f=fname, pwned=PWNED)
    return build


ATTACKS = [
    ("mock-checks-main", "replaces every check_* of __main__ and genedu.checks by unittest.mock.MagicMock() "
                         "(reached through pkgutil.resolve_name)",
     lambda s, f, w: w + _REPLACE_CHECKS.format(replace="import unittest.mock\n_fake = unittest.mock.MagicMock()")),
    ("callable-checks", "replaces the check helpers by callable objects that accept anything",
     lambda s, f, w: w + _REPLACE_CHECKS.format(
         replace="class _Pass:\n    def __call__(self, *a, **k):\n        return a[0] if a else None\n_fake = _Pass()")),
    ("patch-while-running", "patches the checks' comparisons and torch.isclose/allclose/equal while it runs",
     _wrapping(_PATCH_WHILE_RUNNING)),
    ("tensor-subclass", "returns a tensor subclass that answers every comparison with True", _wrapping(_SUBCLASS)),
    ("pickle-payload", "writes pickles that would run a command if unpickled to every file descriptor, "
                       "and returns such an object", lambda s, f, w: _PICKLE_FRAMES.format(f=f, pwned=PWNED)),
    ("huge-output", "returns a 1 GiB tensor",
     lambda s, f, w: f"def {f}(*args, **kwargs):\n    return torch.zeros(2 ** 28)\n"),
    ("closes-pipes", "closes every file descriptor, so that nothing comes back",
     lambda s, f, w: f"def {f}(*args, **kwargs):\n    import os\n    os.closerange(0, 4096)\n    return None\n"),
    ("ignores-alarm", "ignores the time-out signal and loops forever (the grader stops the process)",
     lambda s, f, w: f"def {f}(*args, **kwargs):\n    import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                     "    while True:\n        pass\n"),
    ("raises", "the answer raises", lambda s, f, w: f"def {f}(*args, **kwargs):\n    raise ValueError('my answer is broken')\n"),
    ("endless-loop", "the answer loops forever (interrupted)",
     lambda s, f, w: f"def {f}(*args, **kwargs):\n    while True:\n        pass\n"),
    ("catches-interrupt", "loops forever and swallows KeyboardInterrupt and SystemExit",
     lambda s, f, w: f"def {f}(*args, **kwargs):\n    while True:\n        try:\n            while True:\n                pass\n"
                     "        except (KeyboardInterrupt, SystemExit, Exception):\n            pass\n"),
    ("sys-exit", "`sys.exit()` at the top of the answer cell", lambda s, f, w: "import sys\nsys.exit()\n" + w),
    ("os-exit", "`os._exit(1)` in the answer",
     lambda s, f, w: f"def {f}(*args, **kwargs):\n    import os\n    os._exit(1)\n"),
    ("os-kill", "`os.kill(os.getpid(), 9)` in the answer",
     lambda s, f, w: f"def {f}(*args, **kwargs):\n    import os\n    os.kill(os.getpid(), 9)\n"),
    ("exit", "`exit()` in the answer", lambda s, f, w: f"def {f}(*args, **kwargs):\n    exit()\n"),
    ("memory", "allocates 1 TiB, then 100 x 1 GiB",
     lambda s, f, w: f"def {f}(*args, **kwargs):\n    try:\n        torch.empty(2 ** 40, dtype=torch.uint8)\n"
                     "    except (RuntimeError, MemoryError):\n        pass\n"
                     "    return [torch.empty(2 ** 30, dtype=torch.uint8) for _ in range(100)]\n"),
    ("writes-1gib", "writes 1 GiB with torch.save (capped), then a wrong answer",
     lambda s, f, w: "try:\n    torch.save(torch.zeros(2 ** 28), 'big.pt')\nexcept Exception as err:\n"
                     "    print('write refused:', type(err).__name__)\n" + w),
    ("magic-shell", "a wrong answer with a shell escape and magics", lambda s, f, w: w + "\n!ls /\n%env X=1\n"),
]
# attacks that need genedu's own implementation of the exercise
REFERENCE_ATTACKS = [
    ("calls-reference", "calls genedu's reference", lambda s, f, w, m: f"import {m}\n\ndef {f}(*args, **kwargs):\n"
                                                                     f"    return {m}.{f}(*args, **kwargs)\n"),
    ("reload-reference", "reloads genedu's module, then calls the reference",
     lambda s, f, w, m: f"import importlib\nimport {m}\nimportlib.reload({m})\n\ndef {f}(*args, **kwargs):\n"
                     f"    return importlib.reload({m}).{f}(*args, **kwargs)\n"),
    ("source-of-reference", "runs the source code of genedu's reference",
     lambda s, f, w, m: f"import inspect\nimport {m}\nexec(inspect.getsource({m}.{f}), {m}.__dict__)\n{f} = {m}.{f}\n"),
    ("patches-reference", "a wrong answer that replaces genedu's reference by itself",
     lambda s, f, w, m: w + f"\nimport {m}\n{m}.{f} = {f}\n"),
]


def attacks_for(fname: str) -> list[tuple]:
    module = library_function(fname)
    return ATTACKS + ([(n, what, (lambda b: lambda s, f, w: b(s, f, w, module))(b))
                       for n, what, b in REFERENCE_ATTACKS] if module else [])


# --- honest habits: (name, prefix, suffix); %%time must stay the first line ------------------------------

HABITS = [
    ("time-magic", "%%time\n", ""),
    ("print-version", "print(torch.__version__)\n", ""),
    ("matplotlib-inline", "%matplotlib inline\n", ""),
    ("timeit", "", "\n%timeit -n1 -r1 1 + 1\n"),
    ("warnings", "import warnings\nwarnings.filterwarnings('ignore')\n", ""),
    ("pathlib", "from pathlib import Path\nprint(Path.cwd().name)\n", ""),
    ("getcwd", "import os\nprint(os.getcwd())\n", ""),
    ("dir-of-module", "print(len(dir(torch.nn.functional)))\n", ""),
    ("helper-class", "", "\n\nclass Helper:\n    def __repr__(self):\n        return self.__class__.__name__\n\n\nprint(Helper())\n"),
    ("main-guard", "", "\n\nif __name__ == '__main__':\n    print('defined', {f}.__name__)\n"),
    ("reads-a-file", "import json\nimport os\nwith open([f for f in os.listdir('.') if f.endswith('.ipynb')][0]) as fh:\n"
                     "    print(len(json.load(fh)['cells']), 'cells')\n", ""),
    ("sys-version", "import sys\nprint(sys.version.split()[0])\n", ""),
    ("inspect-signature", "import inspect\n", "\nprint(inspect.signature({f}))\n"),
    ("shell-escape", "!echo shell works\n", ""),
    ("tqdm", "from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass\n", ""),
    ("std-imports", "import gc, types, operator, functools, itertools, collections, copy, random, typing\n", ""),
    ("global-seed", "torch.manual_seed(0)\n", ""),
    ("dunder-name", "", "\nprint(__name__, {f}.__qualname__)\n"),
    ("writes-a-file", "", "\nwith open('notes.txt', 'w') as fh:\n    fh.write('my notes')\n"),
]


def apply_habits(source: str, habits: list[tuple]) -> str:
    fname = defined_name(source)
    prefix = "".join(p for _, p, _ in habits if not p.startswith("%%"))
    cell_magic = "".join(p for _, p, _ in habits if p.startswith("%%"))
    suffix = "".join(s.replace("{f}", fname) for _, _, s in habits)
    return cell_magic + prefix + source + suffix


# --- the cases --------------------------------------------------------------------------------------

def _structure(name, release, tests, graded, answer, target, rest, solved, wrong_answer, other_release):
    cases = []

    def case(student, what, nb_or_bytes, zero=(), full=(), below_max=True):
        content = nb_or_bytes if isinstance(nb_or_bytes, (bytes, type(None))) else _bytes(nb_or_bytes)
        cases.append(Case(student, what, content, set(zero), set(full), below_max))

    def with_answer(src):
        return fill_answers(release, {**solved, answer: src})

    nb = with_answer(wrong_answer)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != target]
    case("deleted-test", "wrong answer, its test cell deleted (nbgrader puts it back)", nb, zero={target}, full=rest)
    nb = with_answer(wrong_answer)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == target:
            c.cell_type = "markdown"
            c.pop("outputs", None)
            c.pop("execution_count", None)
    case("test-as-markdown", "wrong answer, its test cell turned into Markdown", nb, zero={target}, full=rest)
    nb = with_answer(wrong_answer)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == target:
            c.source = "pass  # the test, edited away"
    case("edited-test", "wrong answer, its read-only test cell edited to `pass`", nb, zero={target}, full=rest)
    case("corrupted-json", "the .ipynb is not valid JSON", _bytes(fill_answers(release, solved))[:-200] + b"{{{",
         zero=set(graded))
    case("missing-notebook", "the submission folder holds no notebook", None, zero=set(graded))
    if other_release is not None:
        case("other-chapter", "another chapter's notebook under this chapter's name", _bytes(other_release),
             zero=set(graded))
    case("blank-mock-checks", "the blank release, plus the MagicMock replacement of every check_* (the issue's case)",
         fill_answers(release, {answer: release_source(release, answer) + _REPLACE_CHECKS.format(
             replace="import unittest.mock\n_fake = unittest.mock.MagicMock()")}), zero=set(graded))
    case("env-leak", "a correct answer that prints the grader's environment (through pkgutil)", with_answer(
        "import pkgutil\nprint(dict(pkgutil.resolve_name('o' + 's').environ))\n" + solved[answer]),
        full=set(graded), below_max=False)
    case("prints-megabytes", "a correct answer that prints 20 MB (output is truncated)", with_answer(
        solved[answer] + "\nfor _ in range(200_000):\n    print('x' * 100)\n"), full=set(graded), below_max=False)
    return cases


def release_source(release, gid: str) -> str:
    return grade_ids(release)[gid].source


def _setup(release, source):
    solved = solved_answers(source)
    tests = tested_by(release)
    graded = [gid for gid, c in grade_ids(release).items() if c.metadata["nbgrader"].get("grade")]
    return solved, tests, graded


def hostile_cases(name: str, release, source, other_release=None) -> list[Case]:
    """Every attack on the first exercise, one submission each, plus the notebook-level cases."""
    solved, tests, graded = _setup(release, source)
    wrongs = wrong_answers(name, solved)
    answer = next(iter(tests))
    target = tests[answer]
    rest = set(graded) - {target}
    fname = defined_name(solved[answer])
    cases = [Case("honest-solved", "every answer is the solution", _bytes(fill_answers(release, solved)),
                  full=set(graded), below_max=False, honest=True),
             Case("honest-one-wrong", f"honest, one wrong answer ({answer})",
                  _bytes(fill_answers(release, {**solved, answer: wrongs[answer]})), zero={target}, full=rest,
                  honest=True)]
    for student, what, build in attacks_for(fname):
        nb = fill_answers(release, {**solved, answer: build(solved[answer], fname, wrongs[answer])})
        cases.append(Case(student, what, _bytes(nb), {target}, rest))
    cases += _structure(name, release, tests, graded, answer, target, rest, solved, wrongs[answer], other_release)
    return cases


def hostile_notebooks(name: str, release, source, skip=()) -> list[tuple[str, bytes, set[str], set[str]]]:
    """The attacks (but those named in ``skip``) packed one per answer cell, the last answer left
    honest: (what, notebook bytes, graded cells that must score 0, graded cells that must keep full
    marks). Each attack is used once."""
    solved, tests, graded = _setup(release, source)
    wrongs = wrong_answers(name, solved)
    answers = list(tests)
    per_answer = {a: [t for t in attacks_for(defined_name(solved[a])) if t[0] not in skip] for a in answers}
    # an answer that another answer builds on (ch05's generator, say) is left honest: breaking it
    # rightly costs the exercise that uses it too
    used = {a for a in answers if any(re.search(rf"\b{defined_name(solved[a])}\b", solved[b])
                                      for b in answers if b != a)}
    attackable = [a for a in answers if a not in used] + [a for a in answers if a in used][-1:]
    names = sorted({n for attacks in per_answer.values() for n, _, _ in attacks},
                   key=lambda n: [x[0] for x in ATTACKS + REFERENCE_ATTACKS].index(n))
    packed = []
    todo = list(names)
    while todo:
        chosen = {}
        for a in attackable[:-1]:  # the last stays honest: every notebook shows what an attack costs the rest
            options = {n: b for n, _, b in per_answer[a]}
            pick = next((n for n in todo if n in options and n not in chosen.values()), None)
            if pick:
                chosen[a] = pick
                todo.remove(pick)
        if not chosen:
            break
        new = dict(solved)
        for a, attack in chosen.items():
            fname = defined_name(solved[a])
            build = {n: b for n, _, b in per_answer[a]}[attack]
            new[a] = build(solved[a], fname, wrongs[a])
        zero = {tests[a] for a in chosen}
        what = ", ".join(f"{a}: {n}" for a, n in chosen.items())
        packed.append((what, _bytes(fill_answers(release, new)), zero, set(graded) - zero))
    return packed


def honest_cases(release, source) -> list[Case]:
    """Each habit on every answer, one submission per habit."""
    solved, tests, graded = _setup(release, source)
    return [Case(f"habit-{n}", f"the solutions with `{(p + s).strip().splitlines()[0]}`", _bytes(fill_answers(
        release, {a: apply_habits(src, [(n, p, s)]) for a, src in solved.items()})), full=set(graded),
        below_max=False, honest=True) for n, p, s in HABITS]


def honest_notebook(release, source) -> bytes:
    """Every habit in one notebook: the habits dealt out over the answer cells."""
    solved, tests, graded = _setup(release, source)
    answers = [a for a in solved if a in tests]
    dealt = {a: [] for a in answers}
    for i, habit in enumerate(HABITS):
        dealt[answers[i % len(answers)]].append(habit)
    return _bytes(fill_answers(release, {a: apply_habits(solved[a], dealt.get(a, [])) if a in dealt else solved[a]
                                         for a in solved}))


def write(course: Path, name: str, cases: list[Case]) -> None:
    """Write the cases as submissions of ``name`` in course directory ``course``."""
    for c in cases:
        folder = course / "submitted" / c.student / name
        folder.mkdir(parents=True, exist_ok=True)
        if c.content is not None:
            (folder / (c.filename or f"{name}.ipynb")).write_bytes(c.content)
        else:
            (folder / "notes.txt").write_text("I forgot the notebook\n")


def load(name: str):
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    return release, source


def main() -> None:
    name, out = sys.argv[1], Path(sys.argv[2])
    release, source = load(name)
    others = [p for p in sorted((ROOT / "notebooks").glob("*/*.ipynb")) if p.parent.name != name]
    other = nbformat.read(others[0], as_version=4) if others else None
    cases = hostile_cases(name, release, source, other) + honest_cases(release, source)
    write(out, name, cases)
    print(json.dumps({c.student: c.what for c in cases}, indent=1))


if __name__ == "__main__":
    main()
