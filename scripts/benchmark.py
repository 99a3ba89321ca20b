"""Time what the course's budgets are about, print a table, and write it for the book's
"Build status" page (no assertions: figures only).

    python scripts/benchmark.py              # pages and autograding
    python scripts/benchmark.py --pages      # only the book pages
    python scripts/benchmark.py --grading    # only autograding
    python scripts/benchmark.py --build      # also a whole cold `jupyter-book build` (minutes)

- every executable book page, run top to bottom in a fresh kernel with no cache (budget: 60 s a
  page on a 2-core CPU);
- with --build: the whole book built from a cold cache into a temporary folder, as `make book`
  does (budget: 8 minutes on a 2-core CPU);
- autograding one fully solved submission of each assignment with nbgrader (budget: 15 s; the
  median of three runs),
  in a temporary course directory.

The tables are also written as Markdown to book/_static/build_times.md (--output to change,
--no-write to skip), which book/build_status.md includes: rebuild the book afterwards. Run it on
a quiet machine: other jobs on the cores inflate every figure.
"""
from __future__ import annotations

import argparse
import datetime
import functools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import ROOT, assignments, executable_pages, fill_answers, run_nbgrader, solved_answers  # noqa: E402


# appended to each page: the kernel's own CPU seconds (user + system, its threads included)
GRADING_REPEATS = 3
CPU_CELL = "import resource as _r; _u = _r.getrusage(_r.RUSAGE_SELF); print('CPU', _u.ru_utime + _u.ru_stime)"


def time_pages() -> tuple[list[tuple[str, float]], dict[str, float]]:
    """Wall-clock seconds of each page, executed in a fresh kernel, and the kernel's CPU seconds.
    On a loaded machine the wall clock grows with the load while the CPU time hardly does: the CPU
    time of a page that trains on one thread approximates its wall clock on an idle core."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    rows, cpu = [], {}
    for page in executable_pages():
        nb = jupytext.read(ROOT / page)
        nb.cells.append(nbformat.v4.new_code_cell(CPU_CELL))
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str((ROOT / page).parent)}}).execute()
        rows.append((page, time.perf_counter() - start))
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        if text.startswith("CPU "):
            cpu[page] = float(text.split()[1])
    return rows, cpu


def _course_with(name: str, tmp: Path, students: int) -> None:
    """A temporary course with ``students`` fully solved submissions of ``name``."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp)
    shutil.copytree(ROOT / "solutions" / name, tmp / "solutions" / name)
    run_nbgrader(["generate_assignment", name, "--force"], tmp)
    release = nbformat.read(tmp / "notebooks" / name / f"{name}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    for i in range(students):
        path = tmp / "submitted" / f"student{i:03d}" / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(fill_answers(release, solved_answers(source)), path)


def time_autograde(repeats: int = 3) -> list[tuple[str, float, float, float]]:
    """Seconds for ``nbgrader autograde`` of one solved submission of each assignment, in the
    environment scripts/grade.py gives it (one thread): the median, fastest and slowest of
    ``repeats`` runs (this machine's times vary by a fifth from run to run)."""
    import grade
    rows = []
    for name in assignments():
        with tempfile.TemporaryDirectory() as tmp:
            _course_with(name, Path(tmp), 1)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                grade.run_autograde([name, "--create", "--force"], Path(tmp), grade.grading_env())
                times.append(time.perf_counter() - start)
                if not all(s == m for s, m in grade.scores(Path(tmp), name)["student000"].values()):
                    raise RuntimeError(f"{name}: the solved submission did not get full marks")
            times.sort()
            rows.append((name, times[len(times) // 2], times[0], times[-1]))
    return rows


def time_class(name: str, students: int = 30) -> float:
    """Seconds for ``scripts/grade.py autograde`` of a class of ``students`` solved submissions."""
    import grade
    with tempfile.TemporaryDirectory() as tmp:
        _course_with(name, Path(tmp), students)
        start = time.perf_counter()
        grade.autograde(Path(tmp), name, quiet=True)
        seconds = time.perf_counter() - start
        scores = grade.scores(Path(tmp), name)
        full = sum(1 for cells in scores.values() if all(s == m for s, m in cells.values()))
        if full != students:
            raise RuntimeError(f"only {full} of {students} solved submissions got full marks")
        return seconds


def time_build() -> float:
    """Seconds for a whole `jupyter-book build` from a cold cache (into a temporary folder), with
    the strictness of `make book`."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--path-output", tmp,
                        "--warningiserror", "--nitpick", "--keep-going"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def table(title: str, rows: list[tuple[str, float]], budget: float, cpu: dict[str, float] | None = None) -> None:
    print(f"\n{title}")
    width = max([len(r[0]) for r in rows] + [4])
    for name, seconds in rows:
        extra = f"   (kernel CPU {cpu[name]:.1f} s)" if cpu and name in cpu else ""
        print(f"  {name:{width}s} {seconds:7.1f} s{'   OVER BUDGET' if seconds > budget else ''}{extra}")
    print(f"  {'total':{width}s} {sum(s for _, s in rows):7.1f} s   (budget {budget:.0f} s each)")


@functools.lru_cache(maxsize=None)
def machine() -> str:
    """One line about where the figures were measured (with the load average before the first
    measurement: the class of 30 loads every core itself)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()}, Python {sys.version.split()[0]}, "
            f"torch {torch.__version__}; load average {load:.1f} when measuring"
            + (" (above the core count: other jobs inflated these times)" if load > (os.cpu_count() or 1) else "")
            + f"; a fresh `import torch` took {torch_import_seconds():.1f} s (the same machine takes 1.3 to 2.9 s "
              "from hour to hour: every figure here scales with it)")


def torch_import_seconds(repeats: int = 3) -> float:
    """The median wall-clock seconds of ``python -c "import torch"``: a gauge of how fast the machine
    is right now (shared machines vary by half from hour to hour)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def markdown(pages: list[tuple[str, float]] | None, build: float | None,
             grading: list[tuple[str, float, float, float]] | None, cpu: dict[str, float] | None = None,
             klass: tuple[str, int, float] | None = None) -> str:
    """The tables as Markdown, for book/build_status.md to include."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"Measured {now} by `scripts/benchmark.py` on {machine()}.", ""]
    if pages is not None:
        out += ["**Book pages**, each executed top to bottom in a fresh kernel with no cache "
                "(budget: 60 s a page).", "",
                "| page | seconds | kernel CPU seconds | within budget |", "| --- | ---: | ---: | --- |"]
        cpu = cpu or {}
        for page, seconds in pages:
            cpu_cell = f"{cpu[page]:.1f}" if page in cpu else ""
            verdict = "yes" if seconds <= 60 else "**no: over 60 s**"
            out.append(f"| `{page}` | {seconds:.1f} | {cpu_cell} | {verdict} |")
        total = sum(s for _, s in pages)
        cpu_total = f"**{sum(cpu.values()):.1f}**" if cpu else ""
        out += [f"| **all pages** | **{total:.1f}** | {cpu_total} | "
                f"{'yes' if total <= 480 else '**no: over 8 minutes**'} |", "",
                "The kernel's CPU time is what a page costs on an idle core; on a loaded machine the "
                "wall clock grows, the CPU time hardly does.", ""]
    if build is not None:
        out += [f"**Whole book**, a cold `jupyter-book build` as `make book` runs it: **{build:.0f} s** "
                f"({build / 60:.1f} minutes; budget 8 minutes){'' if build <= 480 else ', **over budget**'}.", ""]
    if grading is not None:
        out += ["**Autograding** one fully solved submission with `nbgrader autograde` as `scripts/grade.py` runs it "
                "(`grader/autograde.py`, which starts the sandbox before nbgrader imports itself; budget: 15 s): the "
                "notebook run in the sandbox, every test cell judged in the grader, nbgrader's own start (about 2.5 s) "
                f"included; the median of {GRADING_REPEATS} runs, and the fastest and slowest.", "",
                "| assignment | seconds (median) | fastest – slowest | within budget |", "| --- | ---: | ---: | --- |"]
        out += [f"| `{name}` | {seconds:.1f} | {low:.1f} – {high:.1f} | {'yes' if seconds <= 15 else '**no: over 15 s**'} |"
                for name, seconds, low, high in grading]
        out.append("")
    if klass is not None:
        name, students, seconds = klass
        out += [f"**A class of {students}** solved submissions of `{name}` graded by `scripts/grade.py autograde` "
                f"({os.cpu_count()} parallel jobs): **{seconds:.0f} s** ({seconds / students:.1f} s a submission).", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", action="store_true", help="only time the book pages")
    parser.add_argument("--grading", action="store_true", help="only time autograding")
    parser.add_argument("--build", action="store_true", help="also time a whole cold book build")
    parser.add_argument("--class-size", type=int, default=30, help="students in the class timed (0: none)")
    parser.add_argument("--output", default=str(ROOT / "book" / "_static" / "build_times.md"),
                        help="where to write the Markdown tables of the pages (default book/_static/build_times.md)")
    parser.add_argument("--grading-output", default=str(ROOT / "book" / "_static" / "grading_times.md"),
                        help="where to write those of autograding (default book/_static/grading_times.md)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    both = not (args.pages or args.grading)
    print(machine())
    pages = build = grading = cpu = klass = None
    if args.pages or both:
        pages, cpu = time_pages()
        table("book pages, executed from scratch", pages, 60, cpu)
    if args.build:
        build = time_build()
        print(f"\nwhole book, cold build: {build:.0f} s (budget 480 s)")
    if args.grading or both:
        grading = time_autograde(GRADING_REPEATS)
        table(f"autograding one solved submission (nbgrader autograde, wall clock, median of {GRADING_REPEATS})",
              [(name, median) for name, median, _, _ in grading], 15)
        if args.class_size:
            name = assignments()[0]
            klass = (name, args.class_size, time_class(name, args.class_size))
            print(f"\na class of {args.class_size} ({name}): {klass[2]:.0f} s")
    if not args.no_write:
        if pages is not None or build is not None:
            Path(args.output).write_text(markdown(pages, build, None, cpu))
            print(f"\nwritten to {args.output} (shown by the book's Build status page after the next build)")
        if grading is not None:
            Path(args.grading_output).write_text(markdown(None, None, grading, klass=klass))
            print(f"written to {args.grading_output}")


if __name__ == "__main__":
    main()
