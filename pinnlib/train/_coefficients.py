"""Trainable coefficients: unknown PDE coefficients learned with the field."""

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, DTypeLike, Float

from .._custom_types import Args
from .._dtypes import resolve_dtype
from .._errors import bad_argument

_WHERE = "pinnlib.trainable"
_PARAMETRISATIONS = ("identity", "log", "softplus")


class Coefficient(eqx.Module):
    r"""A trainable coefficient $c = g(\rho)$ stored by its raw parameter $\rho$.

    Made by `pinnlib.trainable`. The optimizer updates `raw`; the loss sees `value`:
    $c = \rho$ (`"identity"`), $c = e^{\rho}$ (`"log"`: a positive coefficient
    learned by its logarithm, so steps are relative) or $c = \log(1 + e^{\rho})$
    (`"softplus"`: positive, and close to linear for large values).

    **Fields:** `raw` (the parameter, an array); `parametrisation` (static).

    !!! example

        ```python
        nu = pl.trainable(0.05, positive=True)
        nu.value      # 0.05 (stored as raw = log 0.05)
        ```
    """

    raw: Float[Array, "*shape"]
    parametrisation: str = eqx.field(static=True, default="identity")

    @property
    def value(self) -> Float[Array, "*shape"]:
        """The coefficient's value $g(\\rho)$."""
        if self.parametrisation == "log":
            return jnp.exp(self.raw)
        if self.parametrisation == "softplus":
            return jax.nn.softplus(self.raw)
        return self.raw


def trainable(
    value: ArrayLike,
    *,
    positive: bool = False,
    parametrisation: str | None = None,
    dtype: DTypeLike | None = None,
) -> Coefficient:
    r"""An unknown coefficient to learn with the field (an inverse problem).

    Give trainable coefficients to `pinnlib.training(...).init(model, key=...,
    coefficients={"nu": pl.trainable(0.05, positive=True)})`. They are leaves of the
    training state (`TrainState.coefficients`), updated by the same optimizer as the
    model (Adam, L-BFGS, Gauss–Newton alike), recorded in the history as
    `"coef:nu"` and saved in checkpoints. At every step the loss receives
    `args = {**args, "nu": c}` with $c$ the coefficient's current value, so a residual
    such as `pl.pdes.burgers(u, nu=...)` is differentiated with respect to it.

    Parametrisations (DeepXDE's `dde.Variable` is the identity; a positive
    coefficient is better learned through its logarithm):

    - `"identity"`: $c = \rho$;
    - `"log"` (the default with `positive=True`): $c = e^{\rho}$, $\rho_0 = \log c_0$;
    - `"softplus"`: $c = \log(1 + e^{\rho})$, $\rho_0 = \log(e^{c_0} - 1)$.

    **Arguments:**

    - `value`: the initial value $c_0$, a number or an array (e.g. one coefficient
      per material).
    - `positive`: constrain the coefficient to be positive (keyword-only).
    - `parametrisation`: `"identity"`, `"log"` or `"softplus"` (keyword-only;
      default `"log"` if `positive` else `"identity"`).
    - `dtype`: the float dtype (default JAX's default float); the training state
      converts it to the model's dtype.

    **Returns:** a `Coefficient`.

    **Raises:** `ValueError` for a non-finite initial value, a non-positive one with a
    positive parametrisation, or an unknown parametrisation.

    !!! example

        ```python
        training = pl.training(loss, optax.adam(1e-3))
        state = training.init(
            u, key=jax.random.key(0), coefficients={"nu": pl.trainable(0.05, positive=True)}
        )
        state.coefficients["nu"].value     # 0.05
        ```
    """
    if parametrisation is None:
        parametrisation = "log" if positive else "identity"
    if parametrisation not in _PARAMETRISATIONS:
        raise bad_argument(
            f"{_WHERE}(parametrisation=...)",
            f"one of {_PARAMETRISATIONS}",
            parametrisation,
            "Use 'log' or 'softplus' for a positive coefficient, 'identity' otherwise.",
        )
    if positive and parametrisation == "identity":
        raise bad_argument(
            f"{_WHERE}(parametrisation=...)",
            "'log' or 'softplus' with positive=True",
            parametrisation,
            "The identity does not keep a coefficient positive.",
        )
    c0 = jnp.asarray(value, resolve_dtype(_WHERE, dtype))
    if not bool(jnp.all(jnp.isfinite(c0))):
        raise bad_argument(
            f"{_WHERE}(value=...)",
            "a finite value",
            value,
            "Start from a finite guess.",
        )
    if parametrisation != "identity" and not bool(jnp.all(c0 > 0)):
        raise bad_argument(
            f"{_WHERE}(value=...)",
            f"a positive value for the {parametrisation!r} parametrisation",
            value,
            "Start a positive coefficient from a positive guess.",
        )
    if parametrisation == "log":
        raw = jnp.log(c0)
    elif parametrisation == "softplus":
        raw = c0 + jnp.log(-jnp.expm1(-c0))  # log(e^c - 1), stable for large c
    else:
        raw = c0
    return Coefficient(raw, parametrisation)


def check_coefficients(where: str, coefficients) -> dict[str, Coefficient] | None:
    """Return `coefficients` as a dict of `Coefficient`s, or raise naming `where`."""
    if coefficients is None:
        return None
    if not isinstance(coefficients, Mapping) or not all(
        isinstance(c, Coefficient) for c in coefficients.values()
    ):
        raise bad_argument(
            where,
            "a dict {name: pl.trainable(...)}",
            coefficients,
            "Wrap each unknown coefficient: {'nu': pl.trainable(0.05, positive=True)}.",
        )
    return dict(coefficients)


def with_coefficients(
    args: Args, coefficients: Mapping[str, Coefficient] | None
) -> Args:
    """`args` with the values of the trainable coefficients added (a dict)."""
    if not coefficients:
        return args
    if args is not None and not isinstance(args, Mapping):
        raise bad_argument(
            "pinnlib.training(...).step(args=...)",
            "a dict of coefficients (or None) alongside trainable coefficients",
            type(args).__name__,
            "Pass args as a dict, e.g. {'forcing': f}.",
        )
    given = dict(args or {})
    clash = sorted(set(given) & set(coefficients))
    if clash:
        raise bad_argument(
            "pinnlib.training(...).step(args=...)",
            "args without the names of trainable coefficients",
            clash,
            "A coefficient is either given in args or trained, not both: remove "
            "it from args.",
        )
    return {**given, **{k: c.value for k, c in coefficients.items()}}
