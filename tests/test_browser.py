"""The browser check of the built book (scripts/check_browser.py, run by `make book`) on a tiny
synthetic site with known defects: each defect must be flagged on its own page, and a clean page
(with MathJax rendering real math, an image and an inline script) must pass.

Needs Debian's Chromium (`apt-get install chromium`; .ci/run installs it) and pip's playwright
(requirements.txt). Without Chromium the tests are skipped, except under CI (CI=true), where a
missing browser is a failure.
"""
from __future__ import annotations

import base64
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import check_browser  # noqa: E402

try:
    CHROMIUM = check_browser.find_chromium()
except FileNotFoundError:
    CHROMIUM = None
    if os.environ.get("CI"):
        raise
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

# a 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
MATHJAX = '<script defer src="_static/mathjax/tex-chtml.js"></script>'


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title>{head}</head><body>{body}</body></html>"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    from offline_assets import MATHJAX_FILES, mathjax_source

    root = tmp_path_factory.mktemp("site")
    for rel in MATHJAX_FILES:  # MathJax as the book serves it
        src, dst = mathjax_source() / rel, root / "_static" / "mathjax" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    (root / "dot.png").write_bytes(PNG)
    pages = {
        "clean.html": page(
            "<h1>Clean</h1><p>Inline math <span class='math notranslate nohighlight'>\\(x^2 + \\beta\\)</span> and</p>"
            "<div class='math notranslate nohighlight'>\\[\\log p(x) \\ge \\mathbb E_q[\\log p(x \\mid z)]\\]</div>"
            "<img src='dot.png' alt='a dot'><pre><code>cost = \"$$ in code is fine\"</code></pre>"
            "<p>Money: 5 $ and 10 $ is not TeX.</p><script>document.body.dataset.ok = '1';</script>", MATHJAX),
        "js_error.html": page("<p>text</p><script>undefined_function();</script>"),
        "console_error.html": page("<p>text</p><script>console.error('something broke');</script>"),
        "cdn.html": page("<p>text</p>", '<script src="https://cdn.example.org/lib.js"></script>'
                                        '<link rel="stylesheet" href="https://fonts.example.com/font.css">'),
        "broken_image.html": page("<p>text</p><img src='missing.png' alt='missing'>"),
        "raw_tex.html": page("<p>The bound</p><p>$$\\log p(x) \\ge \\mathrm{ELBO}$$</p>"),
        "unrendered_math.html": page("<div class='math notranslate nohighlight'>\\[x^2\\]</div>"),
        # a code line and a display equation wider than their 300-pixel column (the theme scrolls
        # such boxes sideways; what is past the edge is hidden until the reader scrolls)
        "wide_code.html": page("<div style='width:300px'><div class='highlight'><pre style='overflow-x:auto'>"
                               + "x = 1  # " + "a long comment " * 12 + "</pre></div></div>"),
        "wide_math.html": page("<div style='width:300px'><div class='math notranslate nohighlight' "
                               "style='overflow-x:auto'>\\[" + " + ".join(f"x_{{{i}}}^2" for i in range(40))
                               + "\\]</div></div>", MATHJAX),
        "index.html": '<meta http-equiv="Refresh" content="0; url=clean.html" />',
        "_static/theme.html": page("<script>undefined_function();</script>"),  # not a page: skipped
    }
    for name, html in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(html)
    return root


@pytest.fixture(scope="module")
def reports(site, tmp_path_factory) -> dict[str, check_browser.PageReport]:
    shots = tmp_path_factory.mktemp("shots")
    return {r.page: r for r in check_browser.check_site(site, screenshots=shots, chromium=CHROMIUM)}


def test_every_page_is_checked_and_theme_files_are_not(reports):
    assert sorted(reports) == ["broken_image.html", "cdn.html", "clean.html", "console_error.html", "index.html",
                               "js_error.html", "raw_tex.html", "unrendered_math.html", "wide_code.html",
                               "wide_math.html"]


def test_clean_page_passes_with_math_rendered_and_a_screenshot(reports):
    clean = reports["clean.html"]
    assert clean.ok, clean.problems
    assert clean.math_rendered == 2
    assert clean.screenshot and Path(clean.screenshot).stat().st_size > 1000


def test_redirect_page_passes_when_its_target_exists(reports):
    assert reports["index.html"].ok


def test_javascript_exception_is_flagged(reports):
    problems = reports["js_error.html"].problems
    assert any("JavaScript exception" in p and "undefined_function" in p for p in problems), problems


def test_console_error_is_flagged(reports):
    problems = reports["console_error.html"].problems
    assert any("console error" in p and "something broke" in p for p in problems), problems


def test_requests_to_other_hosts_are_blocked_and_flagged(reports):
    report = reports["cdn.html"]
    assert sorted(report.blocked) == ["https://cdn.example.org/lib.js", "https://fonts.example.com/font.css"]
    assert sum("request to another host" in p for p in report.problems) == 2, report.problems


def test_broken_image_is_flagged(reports):
    problems = reports["broken_image.html"].problems
    assert any("image did not load: missing.png" in p for p in problems), problems
    assert any("HTTP 404" in p for p in problems), problems


def test_raw_tex_is_flagged(reports):
    problems = reports["raw_tex.html"].problems
    assert any("raw TeX $$" in p for p in problems), problems


def test_math_without_mathjax_output_is_flagged(reports):
    problems = reports["unrendered_math.html"].problems
    assert any("1 of 1 math elements not rendered" in p for p in problems), problems
    assert any("raw TeX \\[" in p for p in problems), problems


def test_each_defective_page_fails_only_for_its_own_defect(reports):
    """No false alarms: every problem reported on a page is about that page's defect."""
    expected = {"js_error.html": ("JavaScript exception",), "console_error.html": ("console error",),
                "cdn.html": ("request to another host",),
                "broken_image.html": ("image did not load", "HTTP 404", "console error: Failed to load resource"),
                "raw_tex.html": ("raw TeX",), "unrendered_math.html": ("math elements not rendered", "raw TeX"),
                "wide_code.html": ("wider than its box",), "wide_math.html": ("wider than its box",)}
    for name, words in expected.items():
        unrelated = [p for p in reports[name].problems if not any(w in p for w in words)]
        assert not unrelated, f"{name}: {unrelated}"


def test_code_and_math_wider_than_their_box_are_flagged(reports):
    code, math = reports["wide_code.html"].problems, reports["wide_math.html"].problems
    assert any("wider than its box" in p and "code" in p and "a long comment" in p for p in code), code
    assert sum("wider than its box" in p for p in math) == 1 and "math" in math[0], math
    assert reports["wide_math.html"].math_rendered == 1  # rendered, and still too wide


def test_raw_tex_patterns():
    assert check_browser.raw_tex("the ELBO $\\log p(x)$ here")
    assert check_browser.raw_tex("see \\begin{aligned} x")
    assert not check_browser.raw_tex("it costs 5 $ or 10 $, and x_1 is a name")
    # an inline formula split by Markdown (its second line began with "- " and became a list item)
    assert check_browser.raw_tex("duality, $W = \\max_f \\mathbb E_{p} f\n\\mathbb E_{q} f$. Then")
    assert not check_browser.raw_tex("a backslash \\ alone, or a path like C:\\data, is not TeX")


def test_animation_player_works_offline_without_a_kernel(tmp_path):
    """genedu.plot.animate's player (the book's counterpart of a widget) loads nothing from another
    host, raises no error, and its buttons and scrub bar change the frame."""
    import matplotlib.pyplot as plt
    from playwright.sync_api import sync_playwright

    from genedu.plot import animate

    fig, ax = plt.subplots(figsize=(2, 2))

    def draw(i):
        ax.clear()
        ax.plot([0, 1], [0, i])

    (tmp_path / "anim.html").write_text(page(animate(fig, draw, frames=3, dpi=40).data))
    report, = check_browser.check_site(tmp_path, chromium=CHROMIUM)
    assert report.ok, report.problems
    server, base = check_browser.serve(tmp_path)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            tab = browser.new_page()
            tab.goto(base + "anim.html")
            frame = lambda: tab.eval_on_selector(".animation img", "img => img.src")  # noqa: E731
            first = frame()
            tab.click("button[title='Next frame']")
            assert frame() != first
            tab.eval_on_selector("input[type=range]", "r => { r.value = 0; r.oninput(); }")
            assert frame() == first
            browser.close()
    finally:
        server.shutdown()


def test_animation_poster_frame_is_shown_first(tmp_path):
    """animate(poster=-1) opens the player on its last frame (the first one of a training run is a
    blank grid), with the scrub bar there too; the default opens it on frame 0."""
    import matplotlib.pyplot as plt
    from playwright.sync_api import sync_playwright

    from genedu.plot import animate

    def player(poster):
        fig, ax = plt.subplots(figsize=(2, 2))
        return animate(fig, lambda i: (ax.clear(), ax.plot([0, 1], [0, i])), frames=4, dpi=40, poster=poster).data

    (tmp_path / "first.html").write_text(page(player(0)))
    (tmp_path / "last.html").write_text(page(player(-1)))
    server, base = check_browser.serve(tmp_path)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            tab = browser.new_page()
            shown = {}
            for name in ("first", "last"):
                tab.goto(base + f"{name}.html")
                tab.wait_for_function("document.querySelector('.animation img').src.startsWith('data:')")
                shown[name] = tab.eval_on_selector("input[type=range]", "r => Number(r.value)")
            browser.close()
    finally:
        server.shutdown()
    assert shown == {"first": 0, "last": 3}
    with pytest.raises(ValueError, match="poster"):
        player(4)
