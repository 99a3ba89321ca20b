"""Every book page in _toc.yml executes top to bottom without an error.

Pages are MyST Markdown notebooks; each is converted with jupytext and run with nbclient in
the page's own folder, as the book build does.
"""
from __future__ import annotations

import jupytext
import pytest
from conftest import ROOT, executable_pages, toc_pages
from nbclient import NotebookClient


def test_toc_lists_existing_pages():
    for page in toc_pages():
        assert (ROOT / f"{page}.md").exists(), f"_toc.yml lists {page}, which does not exist"


def test_every_chapter_is_in_the_toc():
    listed = set(toc_pages())
    for path in (ROOT / "book").glob("ch*.md"):
        assert f"book/{path.stem}" in listed, f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("page", executable_pages())
def test_page_executes(page):
    path = ROOT / page
    nb = jupytext.read(path)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


def test_site_check_finds_a_leaked_solution(tmp_path):
    """scripts/check_site.py (run by `make book`) flags a page that shows solution code."""
    from check_site import leaks, solution_lines

    lines = sorted(solution_lines())
    assert lines, "no solution lines found in solutions/"
    (tmp_path / "clean.html").write_text("<p>a page with no answers</p>")
    assert leaks(tmp_path) == []
    (tmp_path / "leaky.html").write_text(f"<pre><span>{lines[0]}</span></pre>")
    assert leaks(tmp_path) == [f"leaky.html: {lines[0]}"]
