"""Open every page of the built book in headless Chromium, the way an offline reader sees it, and
exit 1 on any defect.

    python scripts/check_browser.py [_build/html] [--screenshots _build/screenshots] [--chromium PATH]

The site is served on 127.0.0.1 by a throw-away HTTP server; every request to another host is
blocked (so the page behaves as it would in a classroom without internet) and recorded. A page
fails when it has

- a JavaScript error: an uncaught exception, or a ``console.error`` message (this includes
  "Failed to load resource" for a file the page needs);
- a request to a host other than localhost (a CDN script, a web font, an image);
- a local request that fails (HTTP 404, say);
- an image that did not load (``naturalWidth == 0``);
- math that did not render: Sphinx's math elements without MathJax output next to them, a MathJax
  error, or raw TeX (``$$``, ``\\(``, ``\\[``, ``\\begin{``, ``$x^2$``) left in the visible text
  outside code blocks;
- code, an output, a display equation or a table wider than its box (a line the reader has to
  scroll sideways to see, at the default 1280-pixel window).

A full-page screenshot of each page is saved (``_build/screenshots/<page>.png`` by default): look
at them. Chromium is Debian's (``apt-get install chromium``), driven by pip's ``playwright`` with
no browser download of its own.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# pages that are not pages: source copies, downloads and the theme's static files
SKIP_DIRS = {"_static", "_sources", "_downloads", "_images", ".doctrees", "jupyter_execute"}

# Visible text outside code and rendered math, as MathJax leaves it once it has finished.
_VISIBLE_TEXT_JS = """() => {
  const skip = new Set(['SCRIPT', 'STYLE', 'PRE', 'CODE', 'TEXTAREA', 'KBD', 'SAMP', 'MJX-CONTAINER',
                        'MJX-ASSISTIVE-MML', 'NOSCRIPT', 'TEMPLATE', 'SVG']);
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { parts.push(node.textContent); return; }
    if (node.nodeType !== Node.ELEMENT_NODE || skip.has(node.tagName.toUpperCase())) return;
    if (node.classList.contains('highlight') || node.classList.contains('cell_output')) return;
    const style = window.getComputedStyle(node);
    if (style.display === 'none' || style.visibility === 'hidden') return;
    for (const child of node.childNodes) walk(child);
  };
  walk(document.body);
  return parts.join(' ');
}"""

# Wait for MathJax 3 to finish typesetting (no-op on a page without MathJax).
_MATHJAX_DONE_JS = """async () => {
  if (!document.querySelector('script[src*="mathjax" i], script[id="MathJax-script"]')) return 'absent';
  for (let i = 0; i < 200 && !(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 50));
  if (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)) return 'did not start';
  const timeout = new Promise(r => setTimeout(() => r('timed out'), 30000));
  return await Promise.race([window.MathJax.startup.promise.then(() => 'done'), timeout]);
}"""

_MATH_STATS_JS = """() => ({
  sphinx_math: document.querySelectorAll('.math').length,
  unrendered: Array.from(document.querySelectorAll('.math')).filter(
      e => !e.querySelector('mjx-container') && !(e.tagName === 'MJX-CONTAINER')).length,
  rendered: document.querySelectorAll('mjx-container').length,
  errors: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.getAttribute('data-mjx-error') || e.textContent),
})"""

_BROKEN_IMAGES_JS = """async () => {
  const images = Array.from(document.images);
  images.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; setTimeout(r, 5000); })));
  return images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src') || '(no src)');
}"""

# Code, outputs, display math and tables wider than their box: what a reader must scroll sideways
# to see. Each entry: "kind scroll-width>box-width: the start of its text".
_OVERFLOW_JS = """() => {
  const out = [];
  const boxes = 'div.highlight pre, .cell_output pre, .output pre, div.math, mjx-container[display="true"], table';
  for (const e of document.querySelectorAll(boxes)) {
    if (e.scrollWidth <= e.clientWidth + 2) continue;
    if (e.tagName === 'MJX-CONTAINER' && e.closest('div.math')) continue;  // reported once, as its div
    const kind = e.closest('.cell_output, .output') ? 'output' : e.closest('div.highlight') ? 'code'
               : e.tagName === 'TABLE' ? 'table' : 'math';
    const text = (e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 70);
    out.push(`${kind} ${e.scrollWidth}>${e.clientWidth} px: ${text}`);
  }
  return out;
}"""

# Raw TeX that a reader would see: display delimiters, \( \[ \begin, or $...$ holding a TeX command.
RAW_TEX = [
    (re.compile(r"\$\$"), "$$"),
    (re.compile(r"\\\(|\\\)"), "\\( \\)"),
    (re.compile(r"\\\[|\\\]"), "\\[ \\]"),
    (re.compile(r"\\begin\{"), "\\begin{"),
    (re.compile(r"(?<![\w$])\$(?=[^$\n]{0,200}[\\^_])[^$\s][^$\n]{0,200}?\$(?![\w$])"), "$...$"),
    # a TeX command outside rendered math, e.g. an inline formula that Markdown broke (a line of it
    # starting with "- " became a list item, so neither half is math any more)
    (re.compile(r"\\(?:math[a-z]+|frac|sum|int|log|exp|sqrt|nabla|lVert|rVert|Vert|left|right|operatorname"
                r"|alpha|beta|gamma|epsilon|theta|sigma|mu|lambda|le|ge|cdot|hat|bar|tilde|mid|sim)(?![A-Za-z])"),
     "TeX command"),
]


@dataclass
class PageReport:
    """What one page did in the browser; ``problems`` is empty for a clean page."""

    page: str
    problems: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    math_rendered: int = 0
    screenshot: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def pages(site: Path) -> list[str]:
    """Every HTML page of the site, relative to it (theme files and source copies left out)."""
    found = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site)
        if not SKIP_DIRS.intersection(rel.parts[:-1]):
            found.append(rel.as_posix())
    return found


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the report readable
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``site`` on 127.0.0.1 (a free port) in a daemon thread; returns (server, base URL)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


REDIRECT = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.I)


def redirect_target(site: Path, page: str) -> str | None:
    """The target of a page that only redirects (Jupyter Book's index.html), else None."""
    match = REDIRECT.search((site / page).read_text(errors="replace")[:2000])
    return None if match is None else match.group(1)


def find_chromium(explicit: str | None = None) -> str:
    """Debian's Chromium: ``explicit``, else $CHROMIUM, else ``chromium`` on PATH."""
    candidate = explicit or os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not candidate or not Path(candidate).exists():
        raise FileNotFoundError("Chromium not found: install Debian's chromium (apt-get install chromium) "
                                "or pass --chromium PATH")
    return candidate


def raw_tex(text: str) -> list[str]:
    """The raw-TeX patterns found in ``text`` (visible text outside code and rendered math)."""
    found = []
    for pattern, name in RAW_TEX:
        match = pattern.search(text)
        if match:
            start = max(match.start() - 30, 0)
            snippet = " ".join(text[start:match.end() + 30].split())
            found.append(f"raw TeX {name} in the text: ...{snippet}...")
    return found


def check_page(context, base: str, page: str, screenshots: Path | None, blocked: list[str]) -> PageReport:
    """Open ``page`` in a new tab of ``context`` and report what went wrong; ``blocked`` is the list
    the context's router fills with the requests to other hosts it blocked."""
    report = PageReport(page, blocked=blocked)
    tab = context.new_page()
    tab.on("console", lambda msg: report.problems.append(f"console {msg.type}: {msg.text}")
           if msg.type == "error" and "ERR_BLOCKED_BY_CLIENT" not in msg.text else None)
    tab.on("pageerror", lambda exc: report.problems.append(f"JavaScript exception: {exc}"))
    tab.on("requestfailed", lambda req: report.problems.append(
        f"request failed: {req.url} ({req.failure})") if _is_local(req.url) else None)  # others: blocked
    tab.on("response", lambda resp: report.problems.append(
        f"HTTP {resp.status} for {resp.url}") if resp.status >= 400 else None)
    try:
        tab.goto(base + page, wait_until="load", timeout=60_000)
        state = tab.evaluate(_MATHJAX_DONE_JS)
        if state in ("did not start", "timed out"):
            report.problems.append(f"MathJax is linked but {state}")
        report.problems += [f"image did not load: {src}" for src in tab.evaluate(_BROKEN_IMAGES_JS)]
        math = tab.evaluate(_MATH_STATS_JS)
        report.math_rendered = math["rendered"]
        if math["unrendered"]:
            report.problems.append(f"{math['unrendered']} of {math['sphinx_math']} math elements not rendered")
        report.problems += [f"MathJax error: {e}" for e in math["errors"]]
        report.problems += raw_tex(tab.evaluate(_VISIBLE_TEXT_JS))
        report.problems += [f"wider than its box (scrolls sideways): {o}" for o in tab.evaluate(_OVERFLOW_JS)]
        tab.wait_for_timeout(100)  # let late console messages arrive
        if screenshots is not None:
            shot = screenshots / (page.removesuffix(".html").replace("/", "__") + ".png")
            shot.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(shot), full_page=True)
            report.screenshot = str(shot)
    except Exception as exc:  # a page that cannot be opened is a defect, not a crash of the checker
        report.problems.append(f"could not check the page: {exc}")
    finally:
        tab.close()
    report.problems += [f"request to another host (blocked): {url}" for url in report.blocked]
    return report


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS


def check_site(site: Path, screenshots: Path | None = None, chromium: str | None = None,
               width: int = 1280, height: int = 900) -> list[PageReport]:
    """Check every page of ``site`` (see the module docstring); one report per page."""
    from playwright.sync_api import sync_playwright

    site = Path(site)
    server, base = serve(site)
    reports: list[PageReport] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(chromium))
            try:
                for page in pages(site):
                    target = redirect_target(site, page)
                    if target is not None:  # checked as a page of its own; here only that it exists
                        exists = (site / page).parent.joinpath(target.split("#")[0]).is_file()
                        reports.append(PageReport(page, [] if exists else [f"redirects to a missing page: {target}"]))
                        continue
                    context = browser.new_context(viewport={"width": width, "height": height},
                                                  service_workers="block")
                    blocked: list[str] = []

                    def route(route, request, blocked=blocked):
                        if _is_local(request.url):
                            route.continue_()
                        else:  # what an offline reader's browser could not fetch
                            blocked.append(request.url)
                            route.abort("blockedbyclient")

                    context.route("**/*", route)
                    reports.append(check_page(context, base, page, screenshots, blocked))
                    context.close()
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site", nargs="?", default="_build/html", help="the built book (default _build/html)")
    parser.add_argument("--screenshots", default=None,
                        help="folder for one PNG per page (default: _build/screenshots next to the site)")
    parser.add_argument("--chromium", default=None, help="the Chromium binary (default: chromium on PATH)")
    args = parser.parse_args()
    site = Path(args.site)
    if not (site / "index.html").exists():
        print(f"no built book at {site}: run make book first")
        return 1
    screenshots = Path(args.screenshots) if args.screenshots else site.parent / "screenshots"
    reports = check_site(site, screenshots, args.chromium)
    bad = [r for r in reports if not r.ok]
    for r in reports:
        print(f"{'ok  ' if r.ok else 'FAIL'} {r.page}  ({r.math_rendered} formulas rendered)")
        for problem in r.problems:
            print(f"       {problem}")
    print(f"{len(reports)} pages checked in Chromium, {len(bad)} with problems; screenshots in {screenshots}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
