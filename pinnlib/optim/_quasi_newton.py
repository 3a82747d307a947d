r"""Dense self-scaled quasi-Newton methods (SSBroyden, SSBFGS, BFGS) for optax."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, Int, PyTree

from .._errors import bad_argument
from ._new_points import for_new_points
from ._quasi_newton_updates import METHODS, quasi_newton_step


class QuasiNewtonState(NamedTuple):
    r"""State of `scale_by_quasi_newton` (the first block of `quasi_newton`).

    **Fields:** `count`: steps since `init` or `restart` (0: no previous point, so
    no curvature pair yet); `num_updates`: updates of $H$ since it was last a
    multiple of the identity; `inv_hessian`: $H_k$, shape $(P, P)$ in the
    parameters' dtype; `prev_params`, `prev_grad`, `direction`: the flat
    $\theta_k$, $g_k$ and $d_k = -H_k g_k$ of the previous step, shape $(P,)$;
    `tau`, `phi`: $\tau_k$ and $\phi_k$ of the last update (1 when it was skipped).

    The next step gets $H_k y = H_k g_{k+1} + d_k$ from `direction`, without a
    second product with $H$: a state with `count > 0` must keep `direction` equal
    to $-H_k$ `prev_grad` for its `inv_hessian` (with `count = 0`, as after
    `restart`, it is not used).

    !!! example

        ```python
        state = pl.optim.quasi_newton("ssbroyden").init(params)
        state[0].inv_hessian.shape   # (P, P)
        ```
    """

    count: Int[Array, ""]
    num_updates: Int[Array, ""]
    inv_hessian: Float[Array, "p p"]
    prev_params: Float[Array, " p"]
    prev_grad: Float[Array, " p"]
    direction: Float[Array, " p"]
    tau: Float[Array, ""]
    phi: Float[Array, ""]

    def for_new_points(self) -> "QuasiNewtonState":
        """This state for a loss on new points: $H$ kept, the last pair dropped.

        The runner (`pinnlib.run`, `pinnlib.fit`) calls it when it redraws the
        collocation points: $H$ carries the curvature over as a warm start, as in
        Urbán et al. (2025), while the pair $(s, y)$ of the next step would mix two
        losses, so `count = 0` skips it. `restart` resets $H$ too.
        """
        return self._replace(count=jnp.zeros_like(self.count))


def _check_options(method, curvature_eps, max_params) -> None:
    where = "pinnlib.optim.quasi_newton"
    if method not in METHODS:
        raise bad_argument(
            f"{where}(method=...)",
            " or ".join(repr(m) for m in METHODS),
            method,
            "Pass 'ssbroyden' (the default), 'ssbfgs' or 'bfgs' (lower case).",
        )
    if curvature_eps is not None and not (
        isinstance(curvature_eps, int | float)
        and not isinstance(curvature_eps, bool)
        and np.isfinite(curvature_eps)
        and 0 <= curvature_eps < 1
    ):
        raise bad_argument(
            f"{where}(curvature_eps=...)",
            "None or a number in [0, 1)",
            curvature_eps,
            "Pass e.g. 1e-12, or None for the machine epsilon of the parameters.",
        )
    if isinstance(max_params, bool) or not isinstance(max_params, int | np.integer):
        raise bad_argument(
            f"{where}(max_params=...)",
            "a positive Python int",
            max_params,
            "Pass e.g. max_params=20_000.",
        )
    if max_params <= 0:
        raise bad_argument(
            f"{where}(max_params=...)",
            "a positive Python int",
            max_params,
            "Pass e.g. max_params=20_000.",
        )


def _flat_params(params, max_params: int) -> Float[Array, " p"]:
    flat, _ = ravel_pytree(params)
    where = "pinnlib.optim.quasi_newton(...).init(params=...)"
    if flat.size == 0 or not jnp.issubdtype(flat.dtype, jnp.floating):
        raise bad_argument(
            where,
            "a pytree of floating-point arrays (the trainable parameters)",
            f"{flat.size} parameters of dtype {flat.dtype}",
            "Pass eqx.filter(model, eqx.is_inexact_array).",
        )
    if flat.size > max_params:
        gib = flat.size**2 * flat.dtype.itemsize / 2**30
        raise bad_argument(
            where,
            f"at most max_params={max_params} parameters",
            f"{flat.size} parameters (a dense inverse Hessian of {gib:.1f} GiB)",
            "Use optax.lbfgs() (limited memory) for models this large, or raise "
            "quasi_newton(max_params=...) if the memory is there.",
        )
    return flat


def scale_by_quasi_newton(
    method: str = "ssbroyden",
    *,
    curvature_eps: float | None = None,
    max_params: int = 20_000,
) -> optax.GradientTransformationExtraArgs:
    r"""The direction $d_k = -H_k g_k$ of a dense quasi-Newton method, before a line search.

    The first block of `quasi_newton` (which chains it with a line search), like
    `optax.scale_by_lbfgs` in `optax.lbfgs`. Each `update(g, state, params)` first
    updates $H$ with the pair $s = \theta_{k+1} - \theta_k$, $y = g_{k+1} - g_k$ of
    the step just taken (see `quasi_newton` for the formulas and safeguards), then
    returns $d = -H g$ as a pytree like `g` (already negated: chain it with a line
    search, not with `optax.scale(-1)`). The parameters are flattened with
    `jax.flatten_util.ravel_pytree`; $H$ is a dense $(P, P)$ array in their dtype.
    A step costs one matrix-vector product with $H$ and one fused pass that
    rewrites it (in place when the state is donated), plus $O(P)$ work.

    **Arguments:** as `quasi_newton` (all but `method` keyword-only).

    **Returns:** an optax transformation whose `update` needs `params`.

    **Raises:** `ValueError` for a bad `method`, `curvature_eps` or `max_params`,
    and at `init` for parameters that are not floating point or more than
    `max_params` of them.

    !!! example

        ```python
        opt = optax.chain(
            pl.optim.scale_by_quasi_newton("ssbfgs"),
            optax.scale_by_zoom_linesearch(max_linesearch_steps=30),
        )
        ```
    """
    _check_options(method, curvature_eps, max_params)

    def init(params) -> QuasiNewtonState:
        flat = _flat_params(params, max_params)
        return QuasiNewtonState(  # distinct buffers, so the state can be donated
            count=jnp.zeros((), jnp.int32),
            num_updates=jnp.zeros((), jnp.int32),
            inv_hessian=jnp.eye(flat.size, dtype=flat.dtype),
            prev_params=jnp.zeros_like(flat),
            prev_grad=jnp.zeros_like(flat),
            direction=jnp.zeros_like(flat),
            tau=jnp.ones((), flat.dtype),
            phi=jnp.ones((), flat.dtype),
        )

    def update(updates, state, params=None, **extra):
        del extra
        if params is None:
            raise TypeError(
                "pinnlib.optim.scale_by_quasi_newton(...).update: needs `params` "
                "(the current parameters), which the step of pl.training passes; "
                "call update(grads, state, params, ...)."
            )
        dtype = state.inv_hessian.dtype
        g, unravel = ravel_pytree(updates)
        g, x = g.astype(dtype), ravel_pytree(params)[0].astype(dtype)
        eps = jnp.finfo(dtype).eps if curvature_eps is None else curvature_eps
        H, d, updated, reset, tau, phi = quasi_newton_step(
            method,
            state.inv_hessian,
            g,
            x - state.prev_params,
            g - state.prev_grad,
            state.direction,
            state.prev_grad,
            first=state.num_updates == 0,
            has_pair=state.count > 0,
            eps=eps,
        )
        num_updates = state.num_updates + updated.astype(state.num_updates.dtype)
        new_state = QuasiNewtonState(
            count=jnp.asarray(optax.safe_increment(state.count)),
            num_updates=jnp.where(reset, jnp.zeros_like(num_updates), num_updates),
            inv_hessian=H,
            prev_params=x,
            prev_grad=g,
            direction=d,
            tau=tau,
            phi=phi,
        )
        return unravel(d), new_state

    return optax.GradientTransformationExtraArgs(init, update)


def quasi_newton(
    method: str = "ssbroyden",
    *,
    linesearch: optax.GradientTransformation | None = None,
    curvature_eps: float | None = None,
    max_params: int = 20_000,
) -> optax.GradientTransformationExtraArgs:
    r"""Dense self-scaled quasi-Newton (SSBroyden, SSBFGS or BFGS) with a line search.

    Each step moves $\theta_{k+1} = \theta_k + \alpha_k d_k$ along
    $d_k = -H_k g_k$, $H_k \approx \nabla^2 \mathcal{L}(\theta_k)^{-1}$ a dense
    $P \times P$ matrix, with $\alpha_k$ from a strong-Wolfe line search. With
    $s = \theta_{k+1} - \theta_k$ and $y = g_{k+1} - g_k$, $H$ follows the
    self-scaled Broyden family on the inverse Hessian:

    $$H_{k+1} = \frac{1}{\tau_k}\Big[H_k - \frac{H_k y y^\top H_k}{y^\top H_k y}
    + \phi_k v v^\top\Big] + \frac{s s^\top}{y^\top s}, \qquad
    v = \sqrt{y^\top H_k y}\Big[\frac{s}{y^\top s}
    - \frac{H_k y}{y^\top H_k y}\Big].$$

    With $h_k = y^\top H_k y / y^\top s$, $b_k = -\alpha_k s^\top g_k / y^\top s$
    ($= s^\top H_k^{-1} s / y^\top s$) and $a_k = b_k h_k - 1$:

    - `"ssbroyden"` (SSBroyden): $\theta_k = \max(\theta_k^-, \min(\theta_k^+,
      (1 - b_k)/b_k))$ with $c_k = \sqrt{a_k / (1 + a_k)}$,
      $\rho_k^- = \min(1, h_k(1 - c_k))$, $\theta_k^- = (\rho_k^- - 1)/a_k$,
      $\theta_k^+ = 1/\rho_k^-$; then $\sigma_k = 1 + a_k\theta_k$,
      $\phi_k = (1 - \theta_k)/\sigma_k$ and, with $\rho_k^+ = \min(1, 1/b_k)$,
      $\tau_k = \min(\rho_k^+ \sigma_k^{-1/(P-1)}, \sigma_k)$ if $\theta_k \le 0$,
      else $\tau_k = \rho_k^+ \min(\sigma_k^{-1/(P-1)}, 1/\theta_k)$;
    - `"ssbfgs"` (SSBFGS, Al-Baali's scaling): $\phi_k = 1$,
      $\tau_k = \min(1, 1/b_k) = \min\big(1, -y^\top s / (\alpha_k s^\top g_k)\big)$;
    - `"bfgs"`: $\phi_k = \tau_k = 1$, the textbook
      $H_{k+1} = (I - \rho s y^\top) H_k (I - \rho y s^\top) + \rho s s^\top$,
      $\rho = 1 / y^\top s$.

    These are the choices of Urbán, Stefanou & Pons (2025) for SSBroyden and SSBFGS
    (named `SSBroyden2` and `SSBFGS_AB` in the authors' SciPy code; their code
    has a second SSBroyden variant, `SSBroyden1`, with other bounds on
    $\theta_k$, which we do not implement), also used by Kiyani et al. (2025).
    Two details are ours: $a_k$ is clipped at 0 against rounding and
    $\theta_k^- = -\infty$ when $a_k = 0$. The computation is a symmetric
    rank-two update of $H_k/\tau_k$ in the basis $(s, H_k y)$: $O(P^2)$ per step,
    no matrix product. A step reads $H$ twice and writes it once: one
    matrix-vector product $H_k g_{k+1}$, from which $H_k y = H_k g_{k+1} + d_k$
    (the stored direction $d_k = -H_k g_k$) and, by the rank-two structure,
    $H_{k+1} g_{k+1}$ follow with vector operations; then the update in one fused
    pass over $H$.

    **Start and safeguards.** $H_0 = \min(1, 1/|g_0|) I$ (the first step of
    `optax.lbfgs`). The first update from a multiple of the identity uses
    $\tau_0 = h_0 / \sigma_0$ in every method (the authors' `initial_scale`
    option), which for BFGS and SSBFGS is the scaling
    $H_0 = (y^\top s / y^\top y) I$ of Nocedal & Wright (6.20). An update is
    skipped ($H$ kept) when $y^\top s \le \epsilon |s| |y|$ (`curvature_eps`) or
    when any quantity is not finite; if $-H g$ is not a finite descent direction,
    $H$ is reset to $\min(1, 1/|g|) I$. `restart` resets $H$ by hand (after
    resampling the collocation points).

    **One evaluation per accepted step.** The line search (by default
    `optax.scale_by_zoom_linesearch(max_linesearch_steps=20,
    initial_guess_strategy="one")`, as `optax.lbfgs`) keeps the value and gradient
    of the point it accepts in its state (`value`, `grad`); with
    `pl.training(loss, opt, reuse_value=True)` the next step takes them instead of
    evaluating the loss again, so a step whose unit step length is accepted costs
    one value-and-gradient evaluation.

    **Arguments:**

    - `method`: `"ssbroyden"` (default), `"ssbfgs"` or `"bfgs"`.
    - `linesearch`: the line search chained after the direction (keyword-only); a
      strong-Wolfe one keeps $y^\top s > 0$. It must store `value` and `grad` for
      `reuse_value=True`. Default: the zoom line search above.
    - `curvature_eps`: $\epsilon$ of the curvature test; default (None) the
      machine epsilon of the parameters' dtype (keyword-only).
    - `max_params`: the largest $P$ accepted at `init` (default 20 000: $H$ takes
      $8P^2$ bytes in float64, 3.2 GB; larger models should use `optax.lbfgs`).

    **Returns:** an `optax.GradientTransformationExtraArgs`, the chain
    `(scale_by_quasi_newton(...), linesearch)`; its `update` needs `params` and the
    keyword arguments `value`, `grad` and `value_fn` that the step of
    `pl.training` passes. Use float64 for the accuracy these methods can reach.

    **Raises:** `ValueError` for a bad `method`, `curvature_eps`, `max_params` or
    `linesearch`, and at `init` for non-floating parameters or more than
    `max_params` of them.

    **References:** J. F. Urbán, P. Stefanou, J. A. Pons, "Unveiling the
    optimization process of physics informed neural networks: How accurate and
    competitive can PINNs be?", J. Comput. Phys. 523 (2025) 113656
    ([doi](https://doi.org/10.1016/j.jcp.2024.113656)); E. Kiyani, K. Shukla,
    J. F. Urbán, J. Darbon, G. E. Karniadakis, "Which optimizer works best for
    physics-informed neural networks and Kolmogorov–Arnold networks?" (2025),
    [arXiv:2501.16371](https://arxiv.org/abs/2501.16371); M. Al-Baali, "Numerical
    experience with a class of self-scaling quasi-Newton algorithms", J. Optim.
    Theory Appl. 96 (1998) 533–553.

    !!! example

        ```python
        opt = pl.optim.quasi_newton("ssbroyden")
        training = pl.training(loss, opt, reuse_value=True)
        state = training.switch(adam_result.state, dtype=jnp.float64)
        result = pl.fit(training, state, batch, 5000)
        ```
    """
    _check_options(method, curvature_eps, max_params)
    if linesearch is None:
        linesearch = optax.scale_by_zoom_linesearch(
            max_linesearch_steps=20, initial_guess_strategy="one"
        )
    elif not (hasattr(linesearch, "init") and hasattr(linesearch, "update")):
        raise bad_argument(
            "pinnlib.optim.quasi_newton(linesearch=...)",
            "an optax line search transformation",
            type(linesearch).__name__,
            "Pass e.g. optax.scale_by_zoom_linesearch(max_linesearch_steps=30, "
            "initial_guess_strategy='one').",
        )
    direction = scale_by_quasi_newton(
        method, curvature_eps=curvature_eps, max_params=max_params
    )
    return optax.chain(direction, linesearch)


def restart(state: PyTree, *, keep_inverse_hessian: bool = False) -> PyTree:
    r"""Start a quasi-Newton optimizer afresh: $H = I$ and no stored loss value.

    Call it when the loss changes under the optimizer, typically after resampling
    the collocation points: the last curvature pair and the line search's stored
    value and gradient belong to the old loss. Every `QuasiNewtonState` inside
    `state` (an optimizer state, also inside `optax.chain` or a wrapper, or a whole
    `TrainState`) gets `count = 0` (the next step makes no update from the stale
    pair) and, unless `keep_inverse_hessian`, $H = I$ (the next step starts from
    $\min(1, 1/|g|) I$ as at `init`); every line-search state (a named tuple with
    `value` and `grad`) gets `value = +inf`, so the step of
    `pl.training(..., reuse_value=True)` evaluates the loss again instead of
    reusing the stale value.

    **Arguments:**

    - `state`: a pytree holding one or more `QuasiNewtonState`.
    - `keep_inverse_hessian`: keep $H$ (warm start on the new points), dropping only
      the stale pair and value (keyword-only).

    **Returns:** `state` with those fields replaced; same structure and dtypes.

    **Raises:** `ValueError` if `state` holds no `QuasiNewtonState`.

    !!! example

        ```python
        state = state._replace(opt_state=pl.optim.restart(state.opt_state))
        # or on a whole training state:
        state = pl.optim.restart(state)
        ```
    """
    is_leaf = lambda x: isinstance(x, QuasiNewtonState)  # noqa: E731
    if not any(is_leaf(x) for x in jax.tree.leaves(state, is_leaf=is_leaf)):
        raise bad_argument(
            "pinnlib.optim.restart(state=...)",
            "a pytree holding the state of pinnlib.optim.quasi_newton",
            type(state).__name__,
            "Pass the optimizer state (or training state) of a quasi_newton run.",
        )

    def reset(x):
        if not is_leaf(x):
            return x
        H = x.inv_hessian
        H = jnp.broadcast_to(jnp.eye(H.shape[-1], dtype=H.dtype), H.shape)
        return x._replace(num_updates=jnp.zeros_like(x.num_updates), inv_hessian=H)

    if not keep_inverse_hessian:
        state = jax.tree.map(reset, state, is_leaf=is_leaf)
    # The stale pair and stored value go as for new points (count = 0, value = inf).
    return for_new_points(state)
