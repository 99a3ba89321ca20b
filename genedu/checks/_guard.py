"""The grader's static inspection of the code a student wrote, before any of it runs.

The checks compare a student's function with genedu's reference, in the student's own kernel.
Code that runs there could make the comparison lie: rebind the check a test cell calls, patch
``torch.allclose`` or the check module's helpers, read the expected value from the check's stack
frame, or call the reference it was asked to write. At run time the checks defend themselves in
part (they bind what they compare with at import time, and watch for calls to the reference);
this inspection closes the rest *before* execution. Every code cell a student could have edited
(answer cells and cells without nbgrader metadata; locked cells are restored from the source by
nbgrader) is parsed, and rejected when it:

- imports a module that reaches the interpreter's internals or the system (``sys``, ``os``,
  ``builtins``, ``importlib``, ``gc``, ``ctypes``, ``inspect``, ``subprocess``, ...) or the checks
  (``genedu.checks``), or imports the genedu function that it is itself asked to define;
- assigns to, or deletes, an attribute or item of a module of genedu, torch, numpy, scipy, math
  or builtins (``torch.allclose = ...``, ``genedu.checks.ch03.compare = ...``), also through an
  alias (``t = torch``);
- rebinds at top level a name the notebook's read-only cells imported from ``genedu.checks``
  (the check functions the test cells call);
- uses ``exec``, ``eval``, ``compile``, ``__import__``, ``globals``, ``locals``, ``setattr``,
  ``delattr``, ``breakpoint``, ``get_ipython`` (IPython magics and shell escapes become
  ``get_ipython()`` calls), ``getattr`` with a computed or double-underscore name, ``vars`` or
  ``dir`` of a module, or any of these as a value (``functools.partial(setattr, ...)``);
- touches double-underscore attributes or names other than the harmless ones
  (``__init__``, ``__name__``, ...) or stack-frame attributes (``f_back``, ``f_locals``,
  ``tb_frame``, ...);
- refers to ``genedu.<module>.<f>`` where ``f`` is the function the cell defines (the reference).

A static inspection cannot see everything (a module passed to a function as an argument, say); the
checks' run-time test for genedu and torch functions replaced by the notebook's own is the net
under it (``genedu/checks/_core.py``). None of this is needed to answer an exercise with torch
operations; the tests check that every
solution and every correct-but-different answer the course knows passes. A rejected cell is
replaced by one that raises with the reasons, so its test cells (and only the cells that use it)
lose their points, and the feedback says why.

This module has no dependencies (it is loaded by the grader's configuration by its file path).
"""
from __future__ import annotations

import ast

FORBIDDEN_MODULES = frozenset({
    "sys", "os", "posix", "nt", "builtins", "__builtin__", "importlib", "imp", "gc", "ctypes", "cffi",
    "inspect", "types", "subprocess", "signal", "multiprocessing", "threading", "_thread", "socket",
    "shutil", "pickle", "marshal", "code", "codeop", "runpy", "unittest", "traceback", "atexit",
    "faulthandler", "resource", "pty", "mmap", "tracemalloc", "sysconfig", "site", "pdb", "bdb",
    "dis", "asyncio", "concurrent", "pathlib", "io", "tempfile", "glob", "IPython", "ipykernel",
    "jupyter_client", "zmq", "nbformat", "nbgrader", "dill", "cloudpickle", "__main__", "operator",
    "copyreg", "weakref", "ast", "linecache", "tokenize", "warnings", "contextvars",
})
FORBIDDEN_CALLS = frozenset({
    "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "setattr", "delattr", "dir",
    "breakpoint", "get_ipython", "open", "input", "memoryview", "getattr", "hasattr",
})
# packages whose module objects an answer must not modify (the checks and what they compute with)
PROTECTED_PACKAGES = frozenset({"genedu", "torch", "numpy", "scipy", "math", "builtins", "functools"})
ALLOWED_DUNDERS = frozenset({
    "__init__", "__name__", "__qualname__", "__doc__", "__len__", "__call__", "__getitem__",
    "__iter__", "__next__", "__enter__", "__exit__", "__repr__", "__str__", "__contains__",
})
FRAME_ATTRIBUTES = frozenset({
    "f_back", "f_locals", "f_globals", "f_builtins", "f_code", "f_trace", "f_lineno", "tb_frame",
    "tb_next", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "co_code",
    "co_consts", "func_globals", "_getframe", "modules", "setprofile", "settrace",
})


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and len(name) > 4


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _to_python(source: str) -> str:
    """IPython syntax (magics, ``!shell``) as plain Python: magics become ``get_ipython()`` calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - the grader always has IPython
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - leave it to the parser
        return source


def _parse(source: str) -> ast.Module | None:
    """The cell as a Python syntax tree (IPython syntax translated), or None if it does not parse."""
    try:
        return ast.parse(_to_python(source))
    except SyntaxError:
        return None


def _functions(tree: ast.Module | None) -> list[str]:
    """The functions a syntax tree defines at top level."""
    return [] if tree is None else [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def imported_names(source: str | ast.Module) -> dict[str, str]:
    """Top-level names a cell (its source or its syntax tree) binds by ``import``, with the module each
    comes from."""
    tree = _parse(source) if isinstance(source, str) else source
    if tree is None:
        return {}
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def notebook_context(locked_sources: list[str], all_sources: list[str]) -> tuple[set[str], dict[str, str]]:
    """(protected names, import-bound names -> module) for :func:`inspect_code`.

    ``locked_sources`` are the read-only code cells (restored from the instructor's source);
    the protected names are what they import from ``genedu.checks``. ``all_sources`` are all code
    cells; the names they import from a protected package are the module roots answers must not modify.
    """
    protected = set()
    for src in locked_sources:
        for name, module in imported_names(src).items():
            if module.startswith("genedu.checks"):
                protected.add(name)
    modules = {}
    for src in all_sources:
        for name, module in imported_names(src).items():
            if module.split(".")[0] in PROTECTED_PACKAGES:
                modules[name] = module
    return protected, modules


def inspect_code(source: str, protected: set[str] = frozenset(), modules: dict[str, str] | None = None,
                 exercise: set[str] = frozenset()) -> list[str]:
    """The reasons to refuse to run this cell (an empty list: it may run).

    ``protected``: names the cell must not rebind at top level (the check functions);
    ``modules``: names bound to modules or functions of the protected packages (e.g.
    ``{"torch": "torch", "F": "torch.nn.functional", "models": "genedu.models"}``).
    ``exercise``: the functions the cell is asked to define (from the released stub); genedu's
    functions of those names are the references it must not use.
    A cell that does not parse is not refused: running it raises its own ``SyntaxError``.
    """
    modules = dict(modules or {})
    tree = _parse(source)
    if tree is None:
        return []
    defined = set(_functions(tree)) | set(exercise)
    for name, module in imported_names(tree).items():
        if module.split(".")[0] in PROTECTED_PACKAGES:
            modules[name] = module
    # aliases: `t = torch`, `f = torch.nn.functional` (a plain chain of names, no call) are modules too
    changed = True
    while changed:
        changed = False
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                value = node.value
                chain = isinstance(value, (ast.Name, ast.Attribute)) and all(
                    isinstance(n, (ast.Name, ast.Attribute, ast.Load)) for n in ast.walk(value))
                root = _root(value)
                if chain and isinstance(root, ast.Name) and (root.id in modules or root.id in FORBIDDEN_MODULES):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        for sub in ast.walk(target):
                            if isinstance(sub, ast.Name) and sub.id not in modules:
                                modules[sub.id] = ast.unparse(value)
                                changed = True
    reasons: list[str] = []

    def refuse(node: ast.AST, why: str) -> None:
        line = getattr(node, "lineno", None)
        reasons.append((f"line {line}: " if line else "") + why)

    def check_target(target: ast.AST, verb: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                check_target(elt, verb)
        elif isinstance(target, ast.Starred):
            check_target(target.value, verb)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            root = _root(target)
            if isinstance(root, ast.Name) and (root.id in modules or root.id in FORBIDDEN_MODULES
                                               or root.id in protected):
                refuse(target, f"{verb} `{ast.unparse(target)}` changes the library the grader checks with "
                               f"({modules.get(root.id, root.id)}); answers must leave genedu and torch as they are")

    def check_binding(name: str, node: ast.AST) -> None:
        if name in protected:
            refuse(node, f"rebinds `{name}`, the check that grades this exercise")

    top_level = set(map(id, tree.body))
    called = {n.func for n in ast.walk(tree) if isinstance(n, ast.Call)}
    # `net.modules()`: torch.nn.Module's method (not `sys.modules`), called without arguments on an object
    # that is not a module
    module_method_calls = {
        n.func for n in ast.walk(tree)
        if isinstance(n, ast.Call) and not n.args and not n.keywords and isinstance(n.func, ast.Attribute)
        and n.func.attr == "modules"
        and not (isinstance(_root(n.func), ast.Name) and (_root(n.func).id in modules
                                                         or _root(n.func).id in FORBIDDEN_MODULES))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES or alias.name.startswith("genedu.checks"):
                    refuse(node, f"imports `{alias.name}`, which answers do not need")
                if id(node) in top_level:
                    check_binding(alias.asname or alias.name.split(".")[0], node)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module.split(".")[0] in FORBIDDEN_MODULES or module.startswith("genedu.checks") \
                    or (module == "genedu" and any(a.name == "checks" for a in node.names)):
                refuse(node, f"imports from `{'.' * node.level}{module}`, which answers do not need")
            for alias in node.names:
                if module.startswith("genedu") and alias.name in defined:
                    refuse(node, f"imports genedu's `{alias.name}`: write the function yourself")
                if alias.name == "*":
                    refuse(node, "uses `import *`")
                if id(node) in top_level:
                    check_binding(alias.asname or alias.name, node)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.For, ast.AsyncFor,
                               ast.With, ast.AsyncWith, ast.NamedExpr)):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.Delete):
                targets = node.targets
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
            else:
                targets = [node.target]
            verb = "deleting" if isinstance(node, ast.Delete) else "assigning to"
            for target in targets:
                check_target(target, verb)
                if id(node) in top_level or isinstance(node, ast.NamedExpr):
                    for sub in ast.walk(target):
                        if isinstance(sub, ast.Name):
                            check_binding(sub.id, node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if id(node) in top_level:
                check_binding(node.name, node)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                check_binding(name, node)
                if name in modules:
                    refuse(node, f"declares `{name}` global")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("vars", "dir") and len(node.args) == 1:
                root = _root(node.args[0])  # vars(obj) of the answer's own object: reading only
                if not isinstance(root, ast.Name) or root.id in modules or root.id in FORBIDDEN_MODULES \
                        or root.id in protected or _is_dunder(root.id):
                    refuse(node, f"calls `{func.id}()` on a module, which answers do not need")
            elif isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS - {"getattr", "hasattr"}:
                refuse(node, f"calls `{func.id}()`, which answers do not need")
            if isinstance(func, ast.Name) and func.id in ("getattr", "hasattr") and len(node.args) >= 2:
                attr = node.args[1]
                if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                    refuse(node, f"calls `{func.id}` with a computed attribute name")
                elif _is_dunder(attr.value) or attr.value in FRAME_ATTRIBUTES or attr.value in FORBIDDEN_MODULES \
                        or attr.value in defined:
                    refuse(node, f"calls `{func.id}(..., {attr.value!r})`")
        elif isinstance(node, ast.Attribute):
            root = _root(node)
            if (_is_dunder(node.attr) and node.attr not in ALLOWED_DUNDERS) or (
                    node.attr in FRAME_ATTRIBUTES and node not in module_method_calls):
                refuse(node, f"uses `.{node.attr}`, which answers do not need")
            elif node.attr in FORBIDDEN_MODULES and isinstance(root, ast.Name) and root.id != "self":
                # `self.code`: an attribute of the answer's own object, which can only hold a module the
                # answer reached some other (refused) way
                refuse(node, f"reaches the module `{node.attr}` through `{ast.unparse(node)}`")
            elif node.attr in defined:
                if isinstance(root, ast.Name) and modules.get(root.id, "").startswith("genedu"):
                    refuse(node, f"uses `{ast.unparse(node)}`, genedu's own answer to this exercise: "
                                 "write the function yourself")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _is_dunder(node.value) and node.value not in ALLOWED_DUNDERS or node.value in FRAME_ATTRIBUTES:
                refuse(node, f"spells the name {node.value!r}, which answers do not need")
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_CALLS and node not in called and node.id not in defined:
                refuse(node, f"uses `{node.id}` as a value, which answers do not need")
            if _is_dunder(node.id) and node.id not in ALLOWED_DUNDERS:
                refuse(node, f"uses `{node.id}`, which answers do not need")
            elif node.id in ("sys", "os", "builtins", "gc", "ctypes", "inspect") and node.id not in modules \
                    and isinstance(node.ctx, ast.Load):
                refuse(node, f"uses `{node.id}`, which answers do not need")
    return list(dict.fromkeys(reasons))


def rejected_cell(source: str, reasons: list[str]) -> str:
    """The cell the grader runs in place of a refused one: it defines the cell's functions as stubs
    that raise, and raises itself, both with the reasons."""
    names = _functions(_parse(source))
    message = ("The grader did not run this cell, because of what it does (" + "; ".join(reasons)
               + "). Write the answer with torch operations only, as the exercise says.")
    lines = [f"_GRADER_REFUSED = {message!r}"]
    for name in names:
        lines.append(f"def {name}(*args, **kwargs):\n    raise RuntimeError(_GRADER_REFUSED)")
    lines.append("raise RuntimeError(_GRADER_REFUSED)")
    return "\n".join(lines) + "\n"


def function_names(source: str) -> set[str]:
    """The functions a cell defines at top level (for a released stub: the exercise's functions)."""
    return set(_functions(_parse(source)))
