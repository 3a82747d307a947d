"""The optimizer state after the loss changed under it: new collocation points."""

import jax
import jax.numpy as jnp
from jaxtyping import PyTree


def _stores_value(x) -> bool:
    """A line-search state that keeps the loss and gradient of its accepted point
    (`optax.scale_by_zoom_linesearch`, `optax.scale_by_backtracking_linesearch`)."""
    fields = getattr(type(x), "_fields", ())
    return isinstance(x, tuple) and "value" in fields and "grad" in fields


def _adapts(x) -> bool:
    return callable(getattr(type(x), "for_new_points", None))


def for_new_points(opt_state: PyTree) -> PyTree:
    """`opt_state` made valid for a loss on new points.

    The runner calls it when it redraws the points (`resample_every`). Two kinds
    of state remember the old loss:

    - a line search's stored `value` (and `grad`): set to $+\\infty$, so that a step
      with `reuse_value=True` evaluates the loss on the new points instead of
      reusing the old value;
    - a state with a method `for_new_points(self) -> state` (the protocol for
      optimizers with memory, e.g. `pinnlib.optim.QuasiNewtonState`, which drops its
      last curvature pair): replaced by what the method returns.

    Everything else is returned as it is.
    """
    is_leaf = lambda x: _adapts(x) or _stores_value(x)  # noqa: E731

    def adapt(x):
        if _adapts(x):
            return x.for_new_points()
        if _stores_value(x):
            return x._replace(value=jnp.full_like(x.value, jnp.inf))
        return x

    return jax.tree.map(adapt, opt_state, is_leaf=is_leaf)
