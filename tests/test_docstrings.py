"""Docs that parse: every public function and class of the genedu modules in ``MODULES`` has a Google-style
docstring that napoleon (``sphinx.ext.napoleon``) renders, with each parameter documented on its own line of
the Args section, a Returns section when the function returns something, and a return annotation.

What counts as documented is what napoleon's ``:param name:`` output says, with one strictness added:
napoleon accepts ``x, y: ...`` (several parameters on one line, all given the same text); here each
parameter needs its own line, so ``x, y: ...`` documents neither. And Google style has no named returns:
``Returns: x: (N, D) points`` renders as the return type ``x``, so a Returns section names its values without
the colon (``x (N, D) points; y (N,) labels``).

Public: the names in the module's ``__all__`` (else the names not starting with ``_``) that are functions or
classes defined in that module. Methods: the public ones (no leading ``_``, not dunder); ``forward`` of an
``nn.Module`` needs only a return annotation. A class documents its constructor's parameters in its own
docstring (Args; a NamedTuple may list its fields as Attributes instead).
"""
from __future__ import annotations

import importlib
import inspect
import re

import pytest
import torch
from sphinx.ext.napoleon import Config
from sphinx.ext.napoleon.docstring import GoogleDocstring

# the modules checked: every public module of genedu, and the experiments' harness
MODULES = [
    "genedu.data",
    "genedu.autoregressive",
    "genedu.language_models",
    "genedu.density",
    "genedu.pca",
    "genedu.losses",
    "genedu.metrics",
    "genedu.widgets",
    "genedu.runtime",
    "genedu.plot.animation",
    "genedu.plot.figures",
    "genedu.plot.gan",
    "genedu.plot.mode_collapse",
    "genedu.models",
    "genedu.train",
    "genedu.gan",
    "genedu.gan_theory",
    "genedu.remedies",
    "genedu.dcgan",
    "genedu.classifier",
    "genedu.checkpoints",
    "experiments.mode_collapse",
    "genedu.diffusion",
    "genedu.denoisers",
    "genedu.plot.diffusion",
]

# genedu.checks (the exercise checks) and genedu._validate are private and not tested here

CONFIG = Config(napoleon_use_param=True, napoleon_use_rtype=True)

_PARAM = re.compile(r"^:param (.+?):(?:\s|$)", re.MULTILINE)
_RETURNS = re.compile(r"^:(?:returns|Yields):", re.MULTILINE)
_RTYPE = re.compile(r"^:rtype: (.*)$", re.MULTILINE)
_NAMES = re.compile(r"^\(?[A-Za-z_]\w*(?:,\s*[A-Za-z_]\w*)*\)?$")
_ATTRIBUTE = re.compile(r"^\.\. attribute:: (\S+)", re.MULTILINE)
_SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


class _OneParameterPerLine(GoogleDocstring):
    """napoleon without its ``x, y: text`` shorthand: such a line stays one field named ``x, y``."""

    def _consume_fields(self, *args, **kwargs):
        kwargs["multiple"] = False
        return super()._consume_fields(*args, **kwargs)


def _render(doc: str) -> str:
    return str(_OneParameterPerLine(inspect.cleandoc(doc), CONFIG))


def _documented_params(rendered: str) -> list[str]:
    # napoleon escapes the stars of *args and **kwargs
    return [name.replace("\\", "").lstrip("*") for name in _PARAM.findall(rendered)]


def _signature_params(sig: inspect.Signature) -> tuple[list[str], set[str]]:
    """The parameters that must be documented, and those that may be (adds *args / **kwargs)."""
    required = [p.name for p in sig.parameters.values()
                if p.name not in ("self", "cls") and p.kind not in _SKIPPED_KINDS]
    allowed = set(required) | {p.name for p in sig.parameters.values() if p.kind in _SKIPPED_KINDS}
    return required, allowed


def _returns_none(annotation) -> bool:
    return annotation is None or annotation is type(None) or annotation == "None"


def _param_problems(where: str, rendered: str, sig: inspect.Signature) -> list[str]:
    required, allowed = _signature_params(sig)
    documented = _documented_params(rendered)
    problems = [f"{where}: parameter {name!r} is not documented on its own line of Args"
                for name in required if name not in documented]
    problems += [f"{where}: Args entry {name!r} is not a parameter" + (" (one parameter per line)" if "," in name else
                                                                         " (stale documentation?)")
                 for name in documented if name not in allowed]
    return problems


def function_problems(where: str, func, check_params: bool = True) -> list[str]:
    """What is wrong with the docstring and return annotation of ``func`` (named ``where`` in the messages)."""
    sig = inspect.signature(func)
    problems = []
    if sig.return_annotation is inspect.Signature.empty:
        problems.append(f"{where}: no return annotation (write -> None if it returns nothing)")
    if not check_params:
        return problems
    doc = func.__doc__
    if not doc or not doc.strip():
        return problems + [f"{where}: no docstring"]
    rendered = _render(doc)
    problems += _param_problems(where, rendered, sig)
    if sig.return_annotation is not inspect.Signature.empty and not _returns_none(sig.return_annotation) \
            and not _RETURNS.search(rendered):
        problems.append(f"{where}: returns {sig.return_annotation} but has no Returns (or Yields) section")
    problems += _return_name_problems(where, rendered, sig.return_annotation)
    return problems


def _return_name_problems(where: str, rendered: str, annotation) -> list[str]:
    """Google style has no named returns: napoleon renders ``Returns: x: (N, D) points`` as the return type ``x``.

    Flags a rendered return type made only of names (``x``, ``(mean, cov)``) that the annotation does not mention.
    """
    problems = []
    for rtype in _RTYPE.findall(rendered):
        names = re.findall(r"\w+", rtype)
        if _NAMES.match(rtype.strip()) and not all(re.search(rf"\b{n}\b", str(annotation)) for n in names):
            problems.append(f"{where}: Returns begins with {rtype.strip()!r} and a colon, which napoleon renders as "
                            f"the return type {rtype.strip()!r} (drop the colon: 'x (N, D) points')")
    return problems


def _is_namedtuple(cls) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


def class_problems(where: str, cls) -> list[str]:
    """What is wrong with the docstrings of ``cls`` and of its public methods."""
    doc = cls.__dict__.get("__doc__")
    problems = []
    if not doc or not doc.strip():
        problems.append(f"{where}: no docstring")
    else:
        rendered = _render(doc)
        try:
            sig = inspect.signature(cls)
        except (TypeError, ValueError):  # a constructor inspect cannot read: nothing to document
            sig = inspect.Signature()
        if _is_namedtuple(cls):
            # a field documented as an attribute documents the constructor's parameter of that name
            rendered += "".join(f"\n:param {name}: (attribute)" for name in _ATTRIBUTE.findall(rendered))
        problems += _param_problems(where, rendered, sig.replace(return_annotation=inspect.Signature.empty))
    is_module = issubclass(cls, torch.nn.Module)
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if not inspect.isfunction(member):
            continue
        problems += function_problems(f"{where}.{name}", member, check_params=not (is_module and name == "forward"))
    return problems


def public_names(module) -> list[str]:
    """The functions and classes of ``module`` that are public and defined there."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name in vars(module) if not name.startswith("_")]
    return [name for name in names
            if (inspect.isfunction(getattr(module, name, None)) or inspect.isclass(getattr(module, name, None)))
            and getattr(getattr(module, name), "__module__", None) == module.__name__]


def problems_of(module_name: str, name: str) -> list[str]:
    """What is wrong with the documentation of ``module_name.name``."""
    obj = getattr(importlib.import_module(module_name), name)
    where = f"{module_name}.{name}"
    return class_problems(where, obj) if inspect.isclass(obj) else function_problems(where, obj)


def _cases() -> list[tuple[str, str]]:
    return [(module_name, name) for module_name in MODULES
            for name in public_names(importlib.import_module(module_name))]


CASES = _cases()


@pytest.mark.parametrize(("module_name", "name"), CASES, ids=[f"{m}.{n}" for m, n in CASES])
def test_docstring_renders_under_napoleon(module_name: str, name: str) -> None:
    problems = problems_of(module_name, name)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_every_module_has_public_functions() -> None:
    """A module whose public names are all filtered out (a wrong __all__, re-exports only) is checked for nothing."""
    empty = [m for m in MODULES if not public_names(importlib.import_module(m))]
    assert not empty, f"no public functions or classes found in {empty}"


def test_every_public_module_is_checked() -> None:
    """A new genedu module is checked from the day it is added."""
    import pkgutil

    import genedu
    found = {f"genedu.{m.name}" for m in pkgutil.iter_modules(genedu.__path__) if not m.name.startswith("_")}
    found |= {f"genedu.plot.{m.name}" for m in pkgutil.iter_modules(importlib.import_module("genedu.plot").__path__)
              if not m.name.startswith("_")}
    missing = found - set(MODULES) - {"genedu.checks", "genedu.plot"}
    assert not missing, f"add {sorted(missing)} to MODULES"


# --- the checker itself rejects the mistakes it is for -------------------------------------------------------------

def _good(x: torch.Tensor, n: int = 3) -> torch.Tensor:
    """Repeat.

    Args:
        x: (N, D) points.
        n (int): how many times.

    Returns:
        (n * N, D) points.
    """


def _typed_return(x: torch.Tensor) -> float:
    """Sum.

    Args:
        x: (N, D) points.

    Returns:
        float: the sum of all entries.
    """


def _two_on_a_line(x: torch.Tensor, n: int = 3) -> torch.Tensor:
    """Repeat.

    Args:
        x: (N, D) points; n: how many times.

    Returns:
        (n * N, D) points.
    """


def _comma_names(x: torch.Tensor, n: int = 3) -> torch.Tensor:
    """Repeat.

    Args:
        x, n: the points and how many times.

    Returns:
        (n * N, D) points.
    """


def _stale(x: torch.Tensor) -> torch.Tensor:
    """Repeat.

    Args:
        x: (N, D) points.
        n: how many times (a parameter that was removed).

    Returns:
        (N, D) points.
    """


def _no_returns(x: torch.Tensor) -> torch.Tensor:
    """Repeat.

    Args:
        x: (N, D) points.
    """


def _named_return(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split.

    Args:
        x: (N, D) points.

    Returns:
        head: (N // 2, D); tail: the rest.
    """


def _no_annotation(x: torch.Tensor):
    """Repeat.

    Args:
        x: (N, D) points.

    Returns:
        (N, D) points.
    """


def _varargs(x: torch.Tensor, *args, **kwargs) -> None:
    """Pass on.

    Args:
        x: (N, D) points.
        **kwargs: passed on.
    """


def _undocumented(x: torch.Tensor) -> None:
    pass


class _Good:
    """A thing.

    Args:
        size: its size.
    """

    def __init__(self, size: int) -> None:
        self.size = size

    def grow(self, by: int = 1) -> int:
        """Grow.

        Args:
            by: how much.

        Returns:
            the new size.
        """


class _BadClass:
    """A thing, whose Args are missing."""

    def __init__(self, size: int) -> None:
        self.size = size

    def grow(self, by: int = 1):
        """Grow."""


@pytest.mark.parametrize(("func", "expected"), [
    (_two_on_a_line, ["'n' is not documented"]),
    (_comma_names, ["'x' is not documented", "'n' is not documented", "'x, n' is not a parameter"]),
    (_stale, ["'n' is not a parameter"]),
    (_no_returns, ["no Returns"]),
    (_no_annotation, ["no return annotation"]),
    (_named_return, ["renders as the return type 'head'"]),
    (_undocumented, ["no docstring"]),
])
def test_checker_rejects_a_broken_docstring(func, expected: list[str]) -> None:
    problems = function_problems(f"tests.{func.__name__}", func)
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    assert all(p.startswith(f"tests.{func.__name__}: ") for p in problems), problems


def test_checker_accepts_good_docstrings() -> None:
    assert function_problems("tests._good", _good) == []
    assert function_problems("tests._varargs", _varargs) == []
    assert function_problems("tests._typed_return", _typed_return) == []
    assert class_problems("tests._Good", _Good) == []


def test_checker_checks_classes_and_their_methods() -> None:
    problems = class_problems("tests._BadClass", _BadClass)
    assert any(p.startswith("tests._BadClass: parameter 'size'") for p in problems), problems
    assert any(p.startswith("tests._BadClass.grow: no return annotation") for p in problems), problems
