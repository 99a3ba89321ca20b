"""Check the built book (_build/html) for leaked solutions: exit 1 if any page, or any file it
offers for download, contains a line of solution code or of a hidden test.

    python scripts/check_site.py [_build/html]

Solution-only lines are the lines between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` and
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` in solutions/*/*.ipynb (the markers alone
are not evidence: the instructor guide names them). A line is not evidence when it is short
(under 16 characters, ``return x``) or when it also stands somewhere students and readers see
anyway, as a line or inside one: a released notebook (an exercise statement that names
``d_optimizer.zero_grad()``) or a book page's source (``with torch.no_grad():``).
"""
from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import ROOT, assignments  # noqa: E402

BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


def visible_text() -> str:
    """The released notebooks and the book's page sources, one line after another (stripped)."""
    parts = []
    for path in [*(ROOT / "notebooks").glob("*/*.ipynb"), *(ROOT / "book").glob("*.md")]:
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells) if path.suffix == ".ipynb" \
            else path.read_text()
        parts += [line.strip() for line in text.splitlines()]
    return "\n".join(parts)


def solution_lines() -> set[str]:
    """The lines only the solutions hold (see the module docstring)."""
    lines = set()
    for name in assignments():
        nb = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            for _, block in BLOCK.findall(cell.source):
                lines.update(line.strip() for line in block.splitlines() if len(line.strip()) >= 16)
    visible = visible_text()
    return {line for line in lines if line not in visible}


def leaks(site: Path) -> list[str]:
    forbidden = solution_lines()
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in (".html", ".ipynb", ".md", ".py", ".txt", ".js") or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        text = text + "\n" + html.unescape(re.sub(r"<[^>]+>", "", text))  # also the text without markup
        found += [f"{path.relative_to(site)}: {line}" for line in forbidden if line in text]
    return found


def main() -> int:
    site = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html"
    if not site.is_dir():
        print(f"no built site at {site}: run make book first")
        return 1
    found = leaks(site)
    for leak in found:
        print(f"solution code in the built site: {leak}")
    if not found:
        print(f"no solution or hidden-test code in {site} ({len(solution_lines())} solution lines checked)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
