"""Every book page in _toc.yml executes top to bottom without an error.

Pages are MyST Markdown notebooks; each is converted with jupytext and run with nbclient in
the page's own folder, as the book build does. A page that the book build (`make book`) has
already executed is not run twice: the build's execution cache (_build/.jupyter_cache) holds a
page only when every cell ran without an error, so a record of the page's current code, made after
the last change to anything the page imports or reads (genedu, experiments, book/data, the shipped
checkpoints, the requirements), is the same evidence. `.ci/run` builds the book first for this.
"""
from __future__ import annotations

import sys
import time
from datetime import timezone

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


CACHE = ROOT / "_build" / ".jupyter_cache"
# what a page's outcome depends on besides its own code cells
PAGE_INPUTS = ("genedu", "experiments", "book/data", "requirements.txt", "pyproject.toml")


def _inputs_mtime() -> float:
    times = []
    for name in PAGE_INPUTS:
        path = ROOT / name
        files = [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts] if path.is_dir() else [path]
        times += [p.stat().st_mtime for p in files if p.exists()]
    return max(times)


def _code(nb) -> list[str]:
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"]


def executed_by_book_build(path, nb, cache_dir=CACHE, inputs_mtime: float | None = None) -> int | None:
    """The primary key of the book build's cache record of this page (executed without an error, with
    the same code cells, after ``inputs_mtime``: by default the last change to the page's inputs),
    else None."""
    if not (cache_dir / "global.db").exists():
        return None
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_dir))
    newest_input = _inputs_mtime() if inputs_mtime is None else inputs_mtime
    for record in sorted(cache.list_cache_records(), key=lambda r: r.created, reverse=True):
        created = record.created if record.created.tzinfo else record.created.replace(tzinfo=timezone.utc)
        if record.uri != str(path.absolute()) or created.timestamp() < newest_input:
            continue
        if _code(cache.get_cache_bundle(record.pk).nb) == _code(nb):
            return record.pk
    return None


def test_cache_record_is_found_only_for_the_same_code(tmp_path):
    """A record counts for the page's own code only, and only when made after its inputs changed."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache_dir, page = tmp_path / "cache", tmp_path / "page.md"
    page.write_text("x")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    assert executed_by_book_build(page, nb, cache_dir) is None
    before = time.time() - 60
    get_cache(str(cache_dir)).cache_notebook_bundle(CacheBundleIn(nb, str(page)), check_validity=False)
    assert executed_by_book_build(page, nb, cache_dir, inputs_mtime=before) is not None
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(2)")])
    assert executed_by_book_build(page, other, cache_dir, inputs_mtime=before) is None
    assert executed_by_book_build(tmp_path / "other.md", nb, cache_dir, inputs_mtime=before) is None
    # genedu (or the data) changed after the page was executed: the record is not trusted
    assert executed_by_book_build(page, nb, cache_dir, inputs_mtime=time.time() + 60) is None


@pytest.mark.parametrize("page", executable_pages())
def test_page_executes(page):
    path = ROOT / page
    nb = jupytext.read(path)
    if executed_by_book_build(path, nb) is not None:
        return  # the book build ran exactly this code without an error
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


def chapter_pages() -> list[str]:
    return [p for p in toc_pages() if p.startswith("book/ch")]


@pytest.mark.parametrize("page", chapter_pages())
def test_chapter_follows_the_template(page):
    """Every chapter has the parts CONTRIBUTING.md asks for, in order: learning goals, narrative,
    summary, a Try it box that downloads and launches the exercise notebook, references."""
    text = (ROOT / f"{page}.md").read_text()
    name = page.removeprefix("book/")
    parts = [":::{admonition} Learning goals", "\n## Summary\n", "\n## Try it\n", "\n## References\n",
             "```{footbibliography}"]
    positions = [text.find(part) for part in parts]
    assert all(p >= 0 for p in positions), f"{page}: missing {[x for x, p in zip(parts, positions) if p < 0]}"
    assert positions == sorted(positions), f"{page}: the parts are not in the order {parts}"
    try_it = text[positions[2]:positions[3]]
    notebook = f"notebooks/{name}/{name}.ipynb"
    assert f"<../{notebook}>`" in try_it, f"{page}: Try it has no {{download}} link to ../{notebook}"
    assert f"{{launch}}`{notebook}`" in try_it, f"{page}: Try it has no {{launch}}`{notebook}`"
    assert (ROOT / notebook).exists(), f"{notebook} does not exist: run scripts/release.py {name}"


@pytest.mark.parametrize("page", chapter_pages())
def test_chapter_page_needs_no_kernel_and_no_cdn(page):
    """Widgets need a live kernel and load their JavaScript from a CDN: pages use the animated
    counterparts (genedu.widgets.latent_walk, ..., genedu.plot.animate), and train without tqdm bars."""
    text = (ROOT / f"{page}.md").read_text()
    for explorer in ("latent_explorer(", "interpolation_explorer(", "interact(", "interactive("):
        assert explorer not in text.replace(f"`{explorer}", "").replace(f"`widgets.{explorer}", ""), \
            f"{page} displays an ipywidgets explorer ({explorer}); show its animated counterpart"
    for call in ("progress=True",):
        assert call not in text, f"{page}: {call} puts a tqdm widget (CDN JavaScript) in the page"


def test_intro_lists_every_chapter_in_the_toc():
    intro = (ROOT / "book" / "intro.md").read_text()
    for page in chapter_pages():
        assert f"]({page.removeprefix('book/')}.md)" in intro, f"book/intro.md does not link {page}"


def test_repository_url_is_set_only_in_config():
    """The launch links and buttons derive from _config.yml's repository.url; pages must not repeat it."""
    import re

    url = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M).group(1)
    for path in [*(ROOT / "book").glob("*.md"), ROOT / "_toc.yml"]:
        assert url not in path.read_text(), f"{path.name} repeats the repository URL; use {{launch}} or {{install}}"


def test_widget_counterparts_are_self_contained_players():
    """The book's counterparts of the notebook explorers: an HTML player with one frame per point
    of the path (or value of t), no link to another host."""
    import torch

    from genedu import widgets

    decode = lambda z: torch.sigmoid(z[:, :1, None, None].expand(-1, 1, 8, 8))  # noqa: E731
    walk = widgets.latent_walk(decode, widgets.figure_eight(5), torch.randn(20, 2), torch.arange(20) % 10).data
    assert walk.count("frames[") >= 5 and "http" not in walk.replace("http://www.w3.org", "")
    interp = widgets.interpolation_walk(decode, torch.zeros(2), torch.ones(2), frames=4,
                                        x_start=torch.zeros(1, 8, 8), x_end=torch.ones(1, 8, 8)).data
    assert interp.count("frames[") >= 4 and "https://" not in interp
    path = widgets.figure_eight(8, center=(1.0, -1.0), radius=(2.0, 0.5))
    assert path.shape == (8, 2) and torch.allclose(path.mean(0), torch.tensor([1.0, -1.0]), atol=1e-6)
    with pytest.raises(ValueError, match="path"):
        widgets.latent_walk(decode, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="x_start and x_end"):
        widgets.interpolation_walk(decode, torch.zeros(2), torch.ones(2), x_start=torch.zeros(1, 8, 8))


def test_execution_table_marks_pages_over_the_budget():
    """The Build status page's table of this build says when a page ran past the 60 s budget
    (its status column says only whether the page ran without error)."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from course_book import run_time

    assert run_time(None) == "-"
    assert run_time(12.34) == "12.3"
    assert run_time(60.0) == "60.0"
    assert run_time(71.26) == "71.3 (over the 60 s budget)"


def test_every_bibliography_entry_is_cited_by_a_page():
    """The References page lists book/references.bib in full (`:all:`): each entry must be cited
    by some page ({footcite}), and each cited key must exist."""
    import re

    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = re.findall(r"^@\w+\{([^,\s]+),", bib, re.M)
    assert len(keys) == len(set(keys)), "a key is defined twice in references.bib"
    pages = "".join(p.read_text() for p in (ROOT / "book").glob("*.md"))
    cited = {k.strip() for group in re.findall(r"\{footcite[pt]?\}`([^`]+)`", pages) for k in group.split(",")}
    assert not set(keys) - cited, f"entries no page cites: {sorted(set(keys) - cited)}"
    assert not cited - set(keys), f"cited keys missing from references.bib: {sorted(cited - set(keys))}"
