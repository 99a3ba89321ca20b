"""Serve the book's scripts from the book itself, so it works offline (a classroom without
internet, a reader on a train).

MathJax 3 comes from the PyPI package ``sphinx-mathjax-offline`` (pinned in requirements.txt),
which ships MathJax's files; this extension copies only what the pages use into
``_build/html/_static/mathjax`` and points Sphinx at it:

- ``tex-chtml.js``: the TeX input and CommonHTML output in one file;
- ``output/chtml/fonts/woff-v2``: the fonts that output draws with;
- ``input/tex/extensions``: the TeX packages MathJax loads on demand (for \\require and autoload).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util.fileutil import copy_asset

MATHJAX_FILES = ["tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions"]


def mathjax_source() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("the package sphinx-mathjax-offline is missing: pip install -r requirements.txt")
    return Path(spec.origin).parent / "static" / "mathjax"


def copy_mathjax(app: Sphinx, exc: Exception | None) -> None:
    if exc is not None or app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for rel in MATHJAX_FILES:
        src, dst = source / rel, target / rel
        if src.is_dir():
            copy_asset(str(src), str(dst))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())


def setup(app: Sphinx) -> dict:
    mathjax_source()  # fail early, with the fix, when the package is missing
    app.config.mathjax_path = "mathjax/tex-chtml.js"
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
