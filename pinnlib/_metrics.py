"""Error metrics: evaluate a point function on many points, relative L2 errors."""

import equinox as eqx
import jax
import jax.core
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import PointFn, Points
from ._errors import bad_argument, check_points, check_positive_int, is_traced


@eqx.filter_jit
def _evaluate(model, points, batch_size):
    if batch_size is None:
        return jax.vmap(model)(points)
    return jax.lax.map(model, points, batch_size=batch_size)


def evaluate(
    model: PointFn, points: Points, *, batch_size: int | None = None
) -> Float[Array, " n *m"]:
    r"""Evaluate a point function on every row of `points`.

    Computes $[u(x_1), \ldots, u(x_n)]$ by `jax.vmap` over the rows, under
    `eqx.filter_jit`. With `batch_size`, the rows are processed in chunks of that
    size by `jax.lax.map(..., batch_size=...)`, which bounds peak memory on large
    grids at the cost of some speed; the values are the same.

    **Arguments:**

    - `model`: a point function $u(x)$ on one point of shape `(d,)`, returning a
        scalar `()` or a small vector `(m,)`; an `eqx.Module` or any callable.
    - `points`: the points, shape `(n, d)`, floating dtype.
    - `batch_size`: keyword-only positive Python int, or `None` (default) for one
        `vmap` over all points.

    **Returns:**

    The values, shape `(n,)` for a scalar field or `(n, m)` for a vector field.

    **Raises:**

    `ValueError` if `points` is not a non-empty 2-d float array or `batch_size` is
    not a positive int.

    !!! example

        ```python
        import jax, jax.numpy as jnp
        import pinnlib.metrics as metrics

        points = jnp.linspace(0.0, 1.0, 10).reshape(5, 2)
        values = metrics.evaluate(lambda p: jnp.sum(p**2), points)  # shape (5,)
        ```
    """
    check_points("pinnlib.metrics.evaluate(points=...)", points)
    if batch_size is not None:
        batch_size = check_positive_int(
            "pinnlib.metrics.evaluate(batch_size=...)", batch_size
        )
    return _evaluate(model, points, batch_size)


def _as_float64(where: str, name: str, value) -> np.ndarray:
    if is_traced(value):
        raise TypeError(
            f"{where}({name}=...): expected a concrete array, got a traced value. "
            "relative_l2 is a host-side reporting metric that returns a Python float; "
            "inside jit use jnp.linalg.norm(pred - ref) / jnp.linalg.norm(ref)."
        )
    return np.asarray(value, dtype=np.float64)


def relative_l2(prediction: ArrayLike, reference: ArrayLike) -> float:
    r"""Relative $L^2$ error $\|p - r\|_2 / \|r\|_2$ over all entries.

    Both arrays are flattened and the norms computed in float64 NumPy on the host,
    whatever their dtypes (JAX arrays are copied to the host). The shapes must be
    equal, or equal once size-1 axes are dropped (so `(n, 1)` matches `(n,)`); no
    broadcasting takes place.

    This is a reporting metric: it returns a Python `float` and cannot be called on
    traced values inside `jax.jit`.

    **Arguments:**

    - `prediction`: predicted values, any shape (NumPy or JAX array).
    - `reference`: reference values of the same shape, not all zero.

    **Returns:**

    The relative error as a Python `float`.

    **Raises:**

    `ValueError` on a shape mismatch or a reference of zero norm; `TypeError` on
    traced inputs.

    !!! example

        ```python
        import numpy as np
        from pinnlib.metrics import relative_l2

        relative_l2(1.1 * np.ones(4), np.ones(4))  # 0.1 (up to rounding)
        ```
    """
    where = "pinnlib.metrics.relative_l2"
    pred = _as_float64(where, "prediction", prediction)
    ref = _as_float64(where, "reference", reference)
    if pred.shape != ref.shape and np.squeeze(pred).shape != np.squeeze(ref).shape:
        raise bad_argument(
            f"{where}(prediction=...)",
            f"the reference's shape {ref.shape}",
            pred.shape,
            "Evaluate the prediction on the same points as the reference, "
            "in the same order (reshape explicitly if the layouts differ).",
        )
    ref_norm = np.linalg.norm(ref.ravel())
    if not ref_norm > 0:
        raise bad_argument(
            f"{where}(reference=...)",
            "a reference with a positive, finite L2 norm",
            f"norm {ref_norm}",
            "A relative error needs a nonzero reference; "
            "report the absolute error np.linalg.norm(prediction) instead.",
        )
    return float(np.linalg.norm(pred.ravel() - ref.ravel()) / ref_norm)


def rel_l2(
    model: PointFn,
    points: Points,
    reference: ArrayLike,
    *,
    batch_size: int | None = None,
) -> float:
    r"""Relative $L^2$ error of a model against reference values on given points.

    Equal to `relative_l2(evaluate(model, points, batch_size=batch_size), reference)`:
    $\|u(x_i) - r_i\|_2 / \|r_i\|_2$ over all points (and components).

    **Arguments:**

    - `model`: a point function $u(x)$ returning a scalar or a small vector.
    - `points`: the points, shape `(n, d)`.
    - `reference`: the reference values, shape `(n,)` or `(n, m)`.
    - `batch_size`: keyword-only chunk size for `evaluate`, or `None`.

    **Returns:**

    The relative error as a Python `float`.

    **Raises:**

    `ValueError` as for `evaluate` and `relative_l2`.

    !!! example

        ```python
        import jax.numpy as jnp
        import pinnlib.metrics as metrics
        from pinnlib.reference import burgers_grid

        points, u = burgers_grid()
        model = lambda p: -jnp.sin(jnp.pi * p[0])  # the initial condition
        err = metrics.rel_l2(model, points, u)  # about 0.59
        ```
    """
    return relative_l2(evaluate(model, points, batch_size=batch_size), reference)


__all__ = ["evaluate", "rel_l2", "relative_l2"]
