"""Exercise checks: one check, two places.

Each exercise function is checked by a ``check_*`` function here that compares it with
genedu's reference implementation on random inputs. The notebook's visible self-check
calls it with the default seed; nbgrader's hidden tests call it again with other seeds and
shapes. A passing check prints one line; a failing one raises ``AssertionError`` that says
what is wrong and, when it recognises the mistake, why.

The library never imports this module; notebooks do.
"""
from genedu.checks._core import CheckFailed
from genedu.checks.ch01 import (
    check_class_posterior,
    check_fit_gaussian,
    check_gaussian_log_density,
    check_logistic_regression_gradient,
    check_sample_class_conditional,
)

__all__ = [
    "CheckFailed",
    "check_fit_gaussian", "check_gaussian_log_density", "check_class_posterior",
    "check_sample_class_conditional", "check_logistic_regression_gradient",
]
