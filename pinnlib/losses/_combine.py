"""Weighted combination of named loss terms."""

import inspect
from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._custom_types import Args, LossTerm, PointFn, Scalar
from .._dtypes import float_dtype
from .._errors import bad_argument, check_points, check_samples
from ._args import check_args_keys
from ._least_squares import LeastSquaresTerm

RESERVED = ("loss", "step", "lr", "grad_norm")


def _takes_several(model) -> bool:
    """Whether `model` needs more than one positional argument (not a point function,
    e.g. a DeepONet `net(u, y)`), so its term's entries are not points."""
    try:
        params = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )
    required = [p for p in params if p.kind in positional and p.default is p.empty]
    return len(required) > 1


def _check_point_dimension(name: str, model: PointFn, entry) -> None:
    """Check a term's points (or a data term's `(points, values)`) against the model.

    A 2-d array is a set of points `(n, d)`, checked against the model on one point.
    Samples of functions (arrays `(n, ...)` with more axes, or a tuple of arrays, as
    the inputs of operator terms) only need a common leading axis; other entries
    (dicts, nested tuples of a custom term) are left to their term.
    """
    where = f"pinnlib.losses.combine(...)(batch={{{name!r}: ...}})"
    points = entry[0] if isinstance(entry, tuple) else entry
    if isinstance(points, tuple) or getattr(points, "ndim", 0) > 2:
        check_samples(where, points)
        return
    if isinstance(points, Mapping) or _takes_several(model):
        return  # a custom term's entry, or an operator of several inputs
    check_points(where, points)
    try:
        jax.eval_shape(model, jax.ShapeDtypeStruct(points.shape[1:], points.dtype))
    except (TypeError, ValueError) as error:
        raise bad_argument(
            where,
            "points the model accepts",
            f"points of dimension {points.shape[1]}, on which the model fails "
            f"({type(error).__name__}: {str(error).splitlines()[0]})",
            "Check that the model's input size matches the domain's dimension "
            "(space dims + 1 for space-time points).",
        ) from None


def check_least_squares(name: str, term) -> None:
    """Raise unless the term ``name`` is a `LeastSquaresTerm`."""
    if not isinstance(term, LeastSquaresTerm):
        raise bad_argument(
            f"pinnlib.losses.combine({name}=...)",
            "a least-squares term (for Gauss–Newton / natural gradient)",
            type(term).__name__,
            "Build the term with pl.losses.least_squares(misfit), giving "
            "the per-point misfits whose mean square is the term.",
        )


def _check_same_dtype(what: str, tree, model_dtype) -> None:
    """Raise if a (non-weakly typed) float array in ``tree`` has another dtype."""
    for leaf in jax.tree.leaves(tree):
        if (
            model_dtype is not None
            and eqx.is_inexact_array(leaf)
            and not getattr(leaf, "weak_type", False)
            and leaf.dtype != model_dtype
        ):
            raise TypeError(
                f"pinnlib.losses.combine(...)({what}=...): a {leaf.dtype} array in "
                f"`{what}`, but the model's parameters are {model_dtype}. Convert it "
                f"with .astype({model_dtype}) (or pass a Python number); pinnlib "
                "never casts silently."
            )


class CompositeLoss(eqx.Module):
    r"""A weighted sum of named terms, $\mathcal{L} = \sum_k w_k \mathcal{L}_k$.

    Made by `pinnlib.losses.combine`. Calling it as
    `loss(model, batch, weights, args)` evaluates each term `k` on `batch[k]` and
    returns `(total, {k: L_k})`: the unweighted value of every term is reported so it
    can be logged and used by adaptive weighting. The weights are an argument (a
    dict of scalars), never stored here, so strategies can update them.

    **Arguments of the call:**

    - `model`: the field, a point function.
    - `batch`: a dict with one entry per term name (points `(n, d)`, or `(x, y)`
      for data terms).
    - `weights`: a dict `{name: scalar}` with the same names (see `init_weights`).
    - `args`: coefficients passed to every term (e.g. `{"nu": 0.003}`), or `None`.
      Each term reads the keys it accepts (its `accepts` attribute, see
      `LeastSquaresTerm`); when every term declares them, a key that none accepts
      is an error rather than silently ignored.

    **Raises:** `ValueError`/`TypeError` at trace time when a term's points are
    missing, or their dtype differs from the model's parameters, or a key of the
    `args` dict is accepted by no term.

    !!! example

        ```python
        loss = pl.losses.combine(pde=pl.losses.residual(pl.pdes.burgers),
                                 bc=pl.losses.dirichlet(0.0))
        total, terms = loss(u, {"pde": interior, "bc": boundary},
                            loss.init_weights(interior.dtype), {"nu": 0.003})
        terms["pde"], terms["bc"]
        ```
    """

    terms: dict[str, LossTerm] = eqx.field(static=True)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.terms)

    def init_weights(self, dtype=None) -> dict[str, Float[Array, ""]]:
        """Unit weights `{name: 1.0}` of the default (or given) float dtype."""
        return {name: jnp.ones((), dtype) for name in self.terms}

    def _check(
        self, model: PointFn, batch: Mapping, weights: Mapping, args: Args
    ) -> None:
        for what, given in (("batch", batch), ("weights", weights)):
            if not isinstance(given, Mapping) or set(given) != set(self.terms):
                keys = sorted(given) if isinstance(given, Mapping) else type(given)
                raise bad_argument(
                    f"pinnlib.losses.combine(...)(..., {what}=...)",
                    f"a dict with exactly the keys {sorted(self.terms)}",
                    keys,
                    f"Give one {what} entry per loss term (sampler names must match "
                    "the term names).",
                )
        model_dtype = float_dtype(model)
        for what, tree in (("weights", weights), ("args", args)):
            _check_same_dtype(what, tree, model_dtype)
        check_args_keys("pinnlib.losses.combine(...)", self.terms, args)
        for name in self.terms:
            _check_point_dimension(name, model, batch[name])
            dtypes = {
                x.dtype for x in jax.tree.leaves(batch[name]) if eqx.is_inexact_array(x)
            }
            dtype = next((d for d in dtypes if d != model_dtype), None)
            if model_dtype is not None and dtype is not None:
                raise TypeError(
                    f"pinnlib.losses.combine(...)(batch=...): the points of term "
                    f"{name!r} are {dtype} but the model's parameters are "
                    f"{model_dtype}. Sample points with dtype={model_dtype} (or build "
                    "the model with the points' dtype); pinnlib never casts silently."
                )

    def __call__(
        self, model: PointFn, batch: Mapping, weights: Mapping, args: Args = None
    ) -> tuple[Float[Array, ""], dict[str, Float[Array, ""]]]:
        self._check(model, batch, weights, args)
        values = {
            name: term(model, batch[name], args) for name, term in self.terms.items()
        }
        return weighted_sum(values, dict(weights)), values

    def residuals(
        self, model: PointFn, batch: Mapping, weights: Mapping, args: Args = None
    ) -> Float[Array, " N"]:
        r"""The weighted residual vector $r$ with $\mathcal{L} = \|r\|^2$.

        $r = \big(\sqrt{w_k / n_k}\, m_k\big)_k$, the misfits $m_k$ of every term
        (flattened, $n_k$ points each) scaled so that the sum of squares is the total
        loss. This is the least-squares form Gauss–Newton and natural-gradient
        optimizers work on; every term must be a `LeastSquaresTerm` (all builders in
        `pinnlib.losses` are; wrap your own with `pinnlib.losses.least_squares`), and
        the weights must be non-negative.

        **Arguments:** as for calling the loss.

        **Returns:** `r` of shape `(N,)`, $N = \sum_k n_k \times$ (misfit size).

        **Raises:** `ValueError` naming a term that has no least-squares form.

        !!! example

            ```python
            weights = loss.init_weights(batch["pde"].dtype)   # the model's dtype
            r = loss.residuals(u, batch, weights, {"nu": nu})
            jnp.sum(r**2)   # equals loss(u, batch, weights, args)[0]
            ```
        """
        self._check(model, batch, weights, args)
        parts = []
        for name, term in self.terms.items():
            check_least_squares(name, term)
            misfit = term.misfit(model, batch[name], args)
            scale = jnp.sqrt(jax.lax.stop_gradient(weights[name]) / misfit.shape[0])
            parts.append(scale.astype(misfit.dtype) * misfit.reshape(-1))
        return jnp.concatenate(parts)


def combine(**terms) -> CompositeLoss:
    r"""Combine named loss terms into $\mathcal{L} = \sum_k w_k \mathcal{L}_k$.

    **Arguments:** `**terms`: `name=term`, each a `term(model, points, args)` built by
    `residual`, `dirichlet`, `initial`, `neumann`, `periodic`, `data` or your own
    function. The names key the batch, the weights and the history. A term's
    `accepts` attribute (a set of `args` keys, or `None` for any) says which keys
    of `args` it reads; a function without one may read any.

    **Returns:** a `CompositeLoss`, called as `loss(model, batch, weights, args)` →
    `(total, {name: value})`. `args` is checked at trace time: when every term
    declares the keys it accepts (all builders here do; plain functions do not), a
    key no term accepts raises a `ValueError`, so that a misspelt coefficient
    (`{"epsilon": ...}` for `pinnlib.pdes.allen_cahn`, whose keyword is
    `diffusion`) is not trained with the default.

    !!! example

        ```python
        loss = pl.losses.combine(
            pde=pl.losses.residual(pl.pdes.burgers),
            bc=pl.losses.dirichlet(0.0),
            ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
        )
        weights = loss.init_weights(batch["pde"].dtype)   # the model's dtype
        total, terms = loss(u, batch, weights, {"nu": 0.01 / jnp.pi})
        ```
    """
    if not terms:
        raise bad_argument(
            "pinnlib.losses.combine(**terms)",
            "at least one named term",
            terms,
            "Pass terms as keywords, e.g. combine(pde=residual(...)).",
        )
    for name, term in terms.items():
        if name in RESERVED or not callable(term):
            raise bad_argument(
                f"pinnlib.losses.combine({name}=...)",
                f"a callable loss term under a name other than {RESERVED}",
                term,
                "Rename the term or pass a function term(model, points, args).",
            )
    return CompositeLoss(dict(terms))


def weighted_sum(values: PyTree[Scalar], weights: PyTree[Scalar]) -> Float[Array, ""]:
    r"""$\sum_k w_k v_k$ over two pytrees of the same structure (weights not differentiated).

    !!! example

        ```python
        pl.losses.weighted_sum({"a": 1.0, "b": 2.0}, {"a": 0.5, "b": 1.0})   # 2.5
        ```
    """
    weights = jax.lax.stop_gradient(weights)
    products = jax.tree.map(lambda v, w: w * v, values, weights)
    return jnp.asarray(sum(jax.tree.leaves(products)))
