"""Loss terms on samples of functions: an operator's predictions against its targets.

An operator model (`pinnlib.nn.FNO`, `pinnlib.nn.DeepONet`, or any callable) is a
function of one sample, batched by `jax.vmap` as fields are batched over points. A
batch entry is `(inputs, targets)`: `inputs` is an array `(n, ...)` (one input
function per row) or a tuple of such arrays, passed to the model as positional
arguments (`model(*inputs_k)`); `targets` is `(n, ...)`, the model's output shape.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._custom_types import Args
from .._errors import bad_argument, check_samples
from ._args import accepted_keys, coefficients
from ._least_squares import LeastSquaresTerm, least_squares


def predict(model, inputs: PyTree[Array]) -> Array:
    """`model` on every sample: `vmap(model)(inputs)`, unpacking a tuple of inputs."""
    if isinstance(inputs, tuple):
        return jax.vmap(lambda xs: model(*xs))(inputs)
    return jax.vmap(model)(inputs)


def check_targets(where: str, predicted, targets) -> None:
    if getattr(targets, "shape", None) != predicted.shape:
        raise bad_argument(
            where,
            f"targets of the predictions' shape {predicted.shape}",
            getattr(targets, "shape", type(targets).__name__),
            "Give one target per sample, with the model's output shape.",
        )


def _pair(where: str, entry) -> tuple:
    if not (isinstance(entry, tuple) and len(entry) == 2):
        raise bad_argument(
            where,
            "a tuple (inputs, targets)",
            type(entry).__name__,
            "Put (inputs, targets) in the batch under this term's name.",
        )
    return entry


class RelativeL2(eqx.Module):
    r"""The term made by `pinnlib.losses.relative_l2`: mean relative L2 error per sample.

    Called as `term(model, (inputs, targets), args) -> scalar`. `accepts` is empty:
    the term reads no `args`. Its value comes from `statistics` (the sum of the
    samples' relative errors and their number) through `from_statistics`.

    !!! example

        ```python
        term = pl.losses.relative_l2()
        term(lambda a: 2 * a, (inputs, 2 * inputs), None)   # 0.0
        ```
    """

    accepts: frozenset[str] = eqx.field(static=True, default=frozenset())

    def statistics(
        self, model, entry: PyTree[Array], args: Args = None
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """The sum of the samples' relative errors, and the number of samples.

        Both add over any split of the samples (see
        `pinnlib.parallel.data_parallel`).
        """
        where = "pinnlib.losses.relative_l2: batch entry"
        inputs, targets = _pair(where, entry)
        check_samples(f"{where} inputs", inputs)
        predicted = predict(model, inputs)
        check_targets(f"{where} targets", predicted, targets)
        n = predicted.shape[0]
        error = jnp.linalg.norm((predicted - targets).reshape(n, -1), axis=1)
        size = jnp.linalg.norm(targets.reshape(n, -1), axis=1)
        ratios = error / size
        return jnp.sum(ratios), jnp.asarray(n, ratios.dtype)

    def from_statistics(self, stats: Any, args: Args = None) -> Float[Array, ""]:
        """The mean relative error from the sum and the number of samples."""
        total, count = stats
        return total / count

    def __call__(
        self, model, entry: PyTree[Array], args: Args = None
    ) -> Float[Array, ""]:
        return self.from_statistics(self.statistics(model, entry, args), args)


def relative_l2() -> RelativeL2:
    r"""The mean relative L2 error over samples, the loss of neural operators.

    $$\mathcal{L} = \frac1n \sum_{k=1}^n
      \frac{\|\mathcal{G}_\theta(a_k) - u_k\|_2}{\|u_k\|_2},$$

    norms over every entry of one sample (its grid points and channels), as in Li et
    al., "Fourier neural operator for parametric partial differential equations",
    ICLR 2021 (the `LpLoss` of their code, p = 2). Unlike a mean square, it weighs
    each sample by its own size, so small solutions count as much as large ones. It
    is not a least-squares term (the norm is not squared), so it trains with
    first-order optimizers; use `pinnlib.losses.data` for Gauss–Newton.

    **Returns:** a term `term(model, (inputs, targets), args)`: `inputs` an array
    `(n, ...)` (one input per row) or a tuple of such arrays passed to the model as
    positional arguments; `targets` `(n, ...)` with the model's output shape per
    sample. No target may be identically zero.

    **Raises:** `ValueError` at trace time for an entry that is not a pair, inputs
    without a common leading axis, or targets of another shape than the predictions.

    !!! example

        ```python
        fno = pl.nn.FNO(1, 1, modes=16, width=32, key=jax.random.key(0))
        loss = pl.losses.combine(data=pl.losses.relative_l2())
        batches = pl.data.minibatches({"data": (a[:, None], u[:, None])}, 20)
        ```
    """
    return RelativeL2()


def operator_residual(pde) -> LeastSquaresTerm:
    r"""The mean squared PDE residual of an operator's output on its grid (PINO).

    $$\mathcal{L} = \frac1n \sum_{k=1}^n \frac1{|G|} \sum_{x \in G}
      \big|\mathcal{R}\big(\mathcal{G}_\theta(a_k), a_k\big)(x)\big|^2,$$

    with $\mathcal{R}(u, a)$ the residual of the equation on the output grid $G$,
    its derivatives taken on the grid (`pinnlib.diff.spectral_derivative`,
    `pinnlib.diff.finite_difference`): the physics loss of the physics-informed
    neural operator (Li, Zheng, Kovachki, Jin, Chen, Liu, Azizzadenesheli &
    Anandkumar, "Physics-informed neural operator for learning partial
    differential equations", arXiv:2111.03794, 2021, eq. (8)). It needs inputs
    only, no solutions, so it trains on as many input functions as one can draw.
    Averaged over the grid (not summed), so its scale does not depend on the
    resolution.

    **Arguments:** `pde(u, a, **coefficients) -> r`: the residual grid of one
    sample, from the model's output `u` and its input `a` (a tuple of inputs is
    passed as one tuple); its keyword arguments are read from the loss `args`, as
    for `pinnlib.losses.residual`.

    **Returns:** a `LeastSquaresTerm` `term(model, inputs, args)` with `inputs` an
    array `(n, ...)` of input samples or a tuple of such arrays.

    !!! example

        ```python
        def heat(u, a, *, kappa):   # u[t, x] on a periodic x grid, t in [0, 0.1]
            u_t = pl.diff.finite_difference(u, spacing=0.1 / 32, axis=0)
            return u_t - kappa * pl.diff.spectral_derivative(u, axis=1, order=2)

        physics = pl.losses.operator_residual(heat)
        ```
    """
    if not callable(pde):
        raise bad_argument(
            "pinnlib.losses.operator_residual(pde=...)",
            "a function pde(u, a, **coefficients) -> residual grid",
            type(pde).__name__,
            "Write the residual of one sample from the output u and the input a.",
        )

    def misfit(model, inputs, args: Args = None) -> Array:
        check_samples("pinnlib.losses.operator_residual: inputs", inputs)
        outputs = predict(model, inputs)
        given = coefficients(pde, args, fields=2)
        r = jnp.asarray(jax.vmap(lambda u, a: pde(u, a, **given))(outputs, inputs))
        r = r.reshape(r.shape[0], -1)
        return r / jnp.sqrt(jnp.asarray(r.shape[1], r.dtype))

    return least_squares(misfit, accepts=accepted_keys(pde, fields=2))
