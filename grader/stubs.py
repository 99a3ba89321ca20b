"""The genedu a graded notebook sees: a copy in which the references of the notebook's exercises
are gone.

While a notebook is graded, an answer must not be able to call genedu's own implementation of an
exercise, not directly, through an alias, a reload or a re-import. So the probe does not get the
installed package: it gets a copy (mounted read-only over the package's path in the sandbox) where
the body of every reference is replaced by a ``raise``; nothing of the implementation is left in
the process. Each chapter's checks list their references (``REFERENCES`` in
``genedu/checks/chNN.py``, as ``"genedu.module.function"`` or ``"genedu.module.Class.method"``).
"""
from __future__ import annotations

import ast
import compileall
import hashlib
import shutil
import tempfile
from pathlib import Path

MESSAGE = ("{name} is not available while this notebook is graded: the exercise asks you to write it "
           "yourself (with torch operations)")


def _find(tree: ast.Module, path: list[str]):
    body = tree.body
    node = None
    for part in path:
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
        body = node.body
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def stub_source(source: str, functions: dict[str, str]) -> str:
    """``source`` with the body of each function (qualified name within the module -> its full
    name, for the message) replaced by a ``raise RuntimeError``. Raises KeyError for a name the
    module does not define."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []
    for qualname, full in functions.items():
        node = _find(tree, qualname.split("."))
        if node is None:
            raise KeyError(f"{full}: no such function")
        first, last = node.body[0].lineno, node.end_lineno
        indent = " " * node.body[0].col_offset
        edits.append((first, last, f"{indent}raise RuntimeError({MESSAGE.format(name=full)!r})\n"))
    for first, last, text in sorted(edits, reverse=True):
        lines[first - 1:last] = [text]
    return "".join(lines)


def stubbed_package(package: Path, references: list[str], cache: Path | None = None) -> Path:
    """A copy of the genedu package at ``package`` with ``references`` stubbed; returns its folder.
    Copies are cached by content (in ``cache``, default the system's temporary folder)."""
    package = package.resolve()
    by_module: dict[str, dict[str, str]] = {}
    for ref in sorted(set(references)):
        parts = ref.split(".")
        for i in range(len(parts) - 1, 1, -1):  # the longest prefix that is a module file
            module_file = package.parent.joinpath(*parts[:i]).with_suffix(".py")
            if module_file.exists():
                by_module.setdefault(str(module_file.relative_to(package)), {})[".".join(parts[i:])] = ref
                break
        else:
            raise KeyError(f"{ref}: no module of {package} defines it")
    digest = hashlib.sha256(repr(sorted(by_module.items())).encode())
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".json")):  # code, manifests
        digest.update(path.read_bytes())
    target = (cache or Path(tempfile.gettempdir())) / f"genedu-stubbed-{digest.hexdigest()[:16]}" / "genedu"
    if target.exists():
        return target
    staging = Path(tempfile.mkdtemp(prefix="genedu-stubbing-", dir=target.parent.parent))
    copy = staging / "genedu"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for relative, functions in by_module.items():
        path = copy / relative
        path.write_text(stub_source(path.read_text(), functions))
    compileall.compile_dir(str(copy), quiet=1)  # once here: the probe writes no bytecode, and imports faster
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        copy.rename(target)
    except OSError:  # another grading process made it first
        pass
    shutil.rmtree(staging, ignore_errors=True)
    return target


def check_helpers(package: Path) -> list[str]:
    """The functions of the checks (``genedu/checks/ch*.py``) that the sandbox does not need: all but
    the probe functions (the third argument of a ``probe(...)`` call), the classes (the checks send
    instances of them into the sandbox), and what those reach. A check's helpers compute expected
    values, so they would answer the exercises; the sandbox gets them stubbed like the references."""
    folder = package / "checks"
    trees = {p.stem: ast.parse(p.read_text()) for p in sorted(folder.glob("ch*.py"))}
    defs, imports, roots = {}, {}, []
    for module, tree in trees.items():
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs[(module, node.name)] = node
                if isinstance(node, ast.ClassDef):
                    roots.append((module, node.name))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("genedu.checks.ch"):
                for alias in node.names:
                    imports[(module, alias.asname or alias.name)] = (node.module.rsplit(".", 1)[1], alias.name)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "probe"
                    and len(node.args) >= 3 and isinstance(node.args[2], ast.Name)):
                roots.append((module, node.args[2].id))
    keep, todo = set(), list(roots)
    while todo:
        key = todo.pop()
        key = imports.get(key, key)
        if key in keep or key not in defs:
            continue
        keep.add(key)
        todo += [(key[0], n.id) for n in ast.walk(defs[key]) if isinstance(n, ast.Name)]
    return sorted(f"genedu.checks.{module}.{name}" for (module, name), node in defs.items()
                  if (module, name) not in keep and not isinstance(node, ast.ClassDef))
