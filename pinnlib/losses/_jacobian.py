"""The residual Jacobian of a least-squares loss, one point at a time."""

from collections.abc import Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PyTree

from .._custom_types import Args, PointFn
from .._errors import bad_argument
from ._combine import CompositeLoss, check_least_squares
from ._least_squares import LeastSquaresTerm


def residual_jacobian(
    loss: CompositeLoss,
    model: PointFn,
    batch: Mapping,
    weights: Mapping,
    args: Args = None,
) -> tuple[Float[Array, " N"], Float[Array, "N P"]]:
    r"""The residual vector $r$ (`loss.residuals`) and its Jacobian $\partial r/\partial\theta$.

    $\theta$ is the flattened vector of the model's inexact arrays, in the order of
    `jax.flatten_util.ravel_pytree(eqx.filter(model, eqx.is_inexact_array))`. Each
    row is computed as the reverse-mode gradient of one point's misfit, vectorised
    over the points: about three residual evaluations in all, where a Jacobian of
    the whole vector by `jax.jacfwd` costs one residual evaluation per parameter.
    This needs pointwise misfits (the misfit at a point depends on that point
    alone), which holds for every builder in `pinnlib.losses` but
    `pinnlib.losses.mean_value`; a term declared `pointwise=False` gets its rows
    from one `jax.jacrev` of its whole misfit instead.

    **Arguments:** as for `loss.residuals`: `loss`, `model`, `batch`, `weights`,
    `args`.

    **Returns:** `(r, J)` with shapes `(N,)` and `(N, P)`.

    **Raises:** `ValueError` for a term that is not a least-squares term.

    !!! example

        ```python
        r, J = pl.losses.residual_jacobian(loss, u, batch, weights, {"nu": nu})
        gradient = 2 * J.T @ r    # the gradient of the loss, flattened
        ```
    """
    params, static = eqx.partition(model, eqx.is_inexact_array)
    return jacobian_at(
        loss, lambda p: (eqx.combine(p, static), args), params, batch, weights
    )


def jacobian_at(
    loss: CompositeLoss,
    rebuild: Callable[[PyTree], tuple[PointFn, Args]],
    params: PyTree,
    batch: Mapping,
    weights: Mapping,
) -> tuple[Float[Array, " N"], Float[Array, "N P"]]:
    """`residual_jacobian` with respect to any parameters `params`.

    `rebuild(params) -> (model, args)` gives the model and the loss `args` at
    `params` (e.g. trainable coefficients as well as the model's weights); the
    Jacobian's columns follow `ravel_pytree(params)`.
    """
    model, args = rebuild(params)
    r = loss.residuals(model, batch, weights, args)
    rows = []
    for name, term in loss.terms.items():
        check_least_squares(name, term)
        J = _misfit_jacobian(term, rebuild, params, batch[name])
        scale = jnp.sqrt(jax.lax.stop_gradient(weights[name]) / J.shape[0])
        rows.append(scale.astype(J.dtype) * J.reshape(-1, J.shape[-1]))
    return r, jnp.concatenate(rows)


def misfit_jacobian(
    term, model: PointFn, points: PyTree[Array], args: Args = None
) -> Float[Array, "n k P"]:
    r"""Per-point Jacobians of a least-squares term's misfit, $\partial m(x_i)/\partial\theta$.

    One reverse-mode gradient per point and misfit component, vectorised over the
    points ($\theta$ flattened as in `residual_jacobian`). The misfit must be
    pointwise, as for every builder in `pinnlib.losses`.

    **Arguments:** `term`: a `LeastSquaresTerm`; `model`; `points`: the term's
    batch entry (`(n, d)` points, or `(x, y)` for data terms); `args`.

    **Returns:** shape `(n, k, P)`: points, misfit components, parameters.

    **Raises:** `ValueError` if `term` is not a `LeastSquaresTerm`.

    !!! example

        ```python
        J = pl.losses.misfit_jacobian(loss.terms["pde"], u, points, {"nu": nu})
        ntk_trace = jnp.sum(J**2)    # the trace of the term's NTK block
        ```
    """
    if not isinstance(term, LeastSquaresTerm):
        raise bad_argument(
            "pinnlib.losses.misfit_jacobian(term=...)",
            "a LeastSquaresTerm (a term that keeps its per-point misfit)",
            type(term).__name__,
            "Pass a term built by pinnlib.losses (or pl.losses.least_squares).",
        )
    params, static = eqx.partition(model, eqx.is_inexact_array)
    return _misfit_jacobian(
        term, lambda p: (eqx.combine(p, static), args), params, points
    )


def _misfit_jacobian(term, rebuild, params, points) -> Float[Array, "n k P"]:
    """Per-point Jacobians of `term`'s misfit with respect to `params` (flattened).

    For a term that is not pointwise, the Jacobian of its whole misfit `(n, ...)`,
    reshaped to `(n, k, P)`.
    """
    flat, unravel = ravel_pytree(params)
    if not getattr(term, "pointwise", True):

        def whole(f):
            model, args = rebuild(unravel(f))
            return term.misfit(model, points, args)

        J = jax.jacrev(whole)(flat)
        return J.reshape(J.shape[0], -1, J.shape[-1])

    def misfit(f, entry):
        one = jax.tree.map(lambda a: a[None], entry)
        model, args = rebuild(unravel(f))
        return term.misfit(model, one, args).reshape(-1)

    return jax.vmap(jax.jacrev(misfit), in_axes=(None, 0))(flat, points)
