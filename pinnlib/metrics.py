"""Error metrics for point functions: `evaluate`, `relative_l2`, `rel_l2`."""

from ._metrics import evaluate as evaluate, rel_l2 as rel_l2, relative_l2 as relative_l2

__all__ = ["evaluate", "rel_l2", "relative_l2"]
