r"""The self-scaled Broyden-family updates of a dense inverse Hessian approximation.

Pure functions on flat vectors, used by `pinnlib.optim._quasi_newton`. With
$s = \theta_{k+1} - \theta_k$, $y = g_{k+1} - g_k$ and $u = H_k y$,

$$H_{k+1} = \frac{1}{\tau_k}\Big[H_k - \frac{u u^\top}{y^\top u}
+ \phi_k\, (y^\top u)\, w w^\top\Big] + \frac{s s^\top}{y^\top s},
\qquad w = \frac{s}{y^\top s} - \frac{u}{y^\top u},$$

that is $v = \sqrt{y^\top u}\, w$ in the papers' notation. Expanded, this is the
symmetric rank-two update of $H_k / \tau_k$ in the basis $(s, u)$ that
`inverse_update` computes (no $P \times P$ matrix product). A step of
`quasi_newton_step` reads $H$ for one matrix-vector product, $H_k g_{k+1}$, and
rewrites it in one fused pass: $u$ follows from the stored direction
$d_k = -H_k g_k$ and $H_{k+1} g_{k+1}$ from the rank-two structure.
"""

from typing import Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

Method = Literal["ssbroyden", "ssbfgs", "bfgs"]
METHODS: tuple[str, ...] = ("ssbroyden", "ssbfgs", "bfgs")

Scalar = Float[Array, ""]


def scaling_parameters(
    method: str, h: Scalar, b: Scalar, first: Bool[Array, ""], n: int
) -> tuple[Scalar, Scalar]:
    r"""The scaling $\tau_k$ and the Broyden parameter $\phi_k$ of one update.

    With $h_k = y^\top H_k y / y^\top s$, $b_k = s^\top B_k s / y^\top s =
    -\alpha_k s^\top g_k / y^\top s$ ($B_k = H_k^{-1}$, $s = \alpha_k d_k$,
    $d_k = -H_k g_k$) and $a_k = b_k h_k - 1 \ge 0$ (Cauchy–Schwarz; clipped at 0
    against rounding), the method chooses $\theta_k$, the Broyden parameter on the
    Hessian ($0$: BFGS, $1$: DFP):

    - `"ssbroyden"`: $c_k = \sqrt{a_k / (1 + a_k)}$,
      $\rho_k^- = \min(1, h_k (1 - c_k))$, $\theta_k^- = (\rho_k^- - 1) / a_k$
      ($-\infty$ when $a_k = 0$), $\theta_k^+ = 1 / \rho_k^-$,
      $\theta_k = \max(\theta_k^-, \min(\theta_k^+, (1 - b_k) / b_k))$;
    - `"ssbfgs"` and `"bfgs"`: $\theta_k = 0$.

    Then $\sigma_k = 1 + a_k \theta_k$ ($\ge \rho_k^- > 0$) and
    $\phi_k = (1 - \theta_k) / \sigma_k$ (so $\phi_k = 1$ for the BFGS methods).
    The scaling, with $\rho_k^+ = \min(1, 1 / b_k)$ and $n$ parameters, is

    $$\tau_k = \begin{cases}
    \min(\rho_k^+ \sigma_k^{-1/(n-1)}, \sigma_k) & \theta_k \le 0, \\
    \rho_k^+ \min(\sigma_k^{-1/(n-1)}, 1/\theta_k) & \theta_k > 0,
    \end{cases}$$

    which for $\theta_k = 0$ is Al-Baali's $\tau_k = \min(1, 1/b_k)$ (SSBFGS);
    `"bfgs"` has $\tau_k = 1$. At the first update from a multiple of the identity
    (`first`), every method uses $\tau_k = h_k / \sigma_k$ instead: for BFGS this is
    the scaling $H_0 \leftarrow (y^\top s / y^\top y) I$ of Nocedal & Wright (6.20).

    **Returns:** `(tau, phi)`, scalars in the dtype of `h`.
    """
    a = jnp.maximum(b * h - 1, 0)
    if method == "ssbroyden":
        c = jnp.sqrt(a / (1 + a))
        rho_minus = jnp.minimum(1, h * (1 - c))
        positive = a > 0
        theta_minus = jnp.where(
            positive, (rho_minus - 1) / jnp.where(positive, a, 1), -jnp.inf
        )
        theta = jnp.maximum(theta_minus, jnp.minimum(1 / rho_minus, (1 - b) / b))
    else:
        theta = jnp.zeros_like(h)
    sigma = 1 + a * theta
    phi = (1 - theta) / sigma
    if method == "bfgs":
        later = jnp.ones_like(h)
    else:
        rho_plus = jnp.minimum(1, 1 / b)
        root = sigma ** (-1 / (n - 1)) if n > 1 else jnp.ones_like(sigma)
        later = jnp.where(
            theta <= 0,
            jnp.minimum(rho_plus * root, sigma),
            rho_plus * jnp.minimum(root, 1 / theta),
        )
    tau = jnp.where(first, h / sigma, later)
    return tau, phi


def update_coefficients(
    ys: Scalar, yu: Scalar, tau: Scalar, phi: Scalar
) -> tuple[Scalar, Scalar, Scalar]:
    r"""The coefficients of $s s^\top$, $u u^\top$ and $s u^\top + u s^\top$ in $H_{k+1}$.

    $$H_{k+1} = \frac{H_k}{\tau_k} + \rho\Big(1 + \frac{\phi_k h_k}{\tau_k}\Big)
    s s^\top + \frac{\phi_k - 1}{\tau_k\, y^\top u} u u^\top
    - \frac{\phi_k \rho}{\tau_k} (s u^\top + u s^\top),$$

    $\rho = 1 / y^\top s$, $h_k = \rho\, y^\top u$, $u = H_k y$.

    **Returns:** `(coef_ss, coef_uu, coef_su)`.
    """
    rho = 1 / ys
    coef_ss = rho * (1 + phi * yu * rho / tau)
    coef_uu = (phi - 1) / (tau * yu)
    coef_su = -phi * rho / tau
    return coef_ss, coef_uu, coef_su


def inverse_update(
    H: Float[Array, "p p"],
    s: Float[Array, " p"],
    u: Float[Array, " p"],
    ys: Scalar,
    yu: Scalar,
    tau: Scalar,
    phi: Scalar,
) -> Float[Array, "p p"]:
    r"""$H_{k+1}$ of the module docstring, as a rank-two update of $H_k / \tau_k$.

    With the coefficients of `update_coefficients`, $H_{k+1} = H_k / \tau_k
    + z_s s^\top + z_u u^\top$, $z_s = c_{ss} s + c_{su} u$ and
    $z_u = c_{su} s + c_{uu} u$: two outer products of vectors, which XLA fuses
    with the scaling of $H$ into one pass over it (symmetric up to rounding).

    **Arguments:** `H` $(p, p)$; `s`, `u` $(p,)$; `ys` $= y^\top s > 0$;
    `yu` $= y^\top u > 0$; `tau`, `phi` from `scaling_parameters`.
    """
    z_s, z_u = _update_vectors(s, u, *update_coefficients(ys, yu, tau, phi))
    return H / tau + jnp.outer(z_s, s) + jnp.outer(z_u, u)


def _update_vectors(
    s: Float[Array, " p"],
    u: Float[Array, " p"],
    coef_ss: Scalar,
    coef_uu: Scalar,
    coef_su: Scalar,
) -> tuple[Float[Array, " p"], Float[Array, " p"]]:
    r"""$(z_s, z_u)$ of `inverse_update`: $H_{k+1} = H_k/\tau_k + z_s s^\top + z_u u^\top$."""
    return coef_ss * s + coef_su * u, coef_su * s + coef_uu * u


def _scaled_identity(gamma: Scalar, shape: tuple[int, ...]) -> Float[Array, "p p"]:
    """`gamma * eye` as an elementwise expression, fused with the pass that selects it."""
    rows = jax.lax.broadcasted_iota(jnp.int32, shape, 0)
    cols = jax.lax.broadcasted_iota(jnp.int32, shape, 1)
    return jnp.where(rows == cols, gamma, jnp.zeros_like(gamma))


def quasi_newton_step(
    method: str,
    H: Float[Array, "p p"],
    g: Float[Array, " p"],
    s: Float[Array, " p"],
    y: Float[Array, " p"],
    d: Float[Array, " p"],
    g_old: Float[Array, " p"],
    *,
    first: Bool[Array, ""],
    has_pair: Bool[Array, ""],
    eps,
) -> tuple[
    Float[Array, "p p"],
    Float[Array, " p"],
    Bool[Array, ""],
    Bool[Array, ""],
    Scalar,
    Scalar,
]:
    r"""$H_{k+1}$ from the pair $(s, y)$, then the direction $-H_{k+1} g_{k+1}$.

    One product with $H$ and one pass that rewrites it: with $u_g = H_k g_{k+1}$
    (the product) and the stored direction $d = -H_k g_k$, $H_k y = u_g + d$;
    then, $H_{k+1} = H_k / \tau_k + z_s s^\top + z_u u^\top$ being the rank-two
    update of `inverse_update` with $u = H_k y$,

    $$H_{k+1} g = \frac{u_g}{\tau_k} + z_s (s^\top g) + z_u (u^\top g)$$

    ($= \frac{1}{\tau_k}\big[u_g - u \frac{u^\top g}{y^\top u}
    + \phi_k v\, v^\top g\big] + s \frac{s^\top g}{y^\top s}$ of the module
    docstring): vector operations only. This needs $d = -H_k g_k$
    exactly for the $H_k$ given (`g_old` $= g_k$), which every step keeps (the
    reset below sets both); `count = 0` (`has_pair` False) after `restart`, which
    changes $H$ alone, so the stale $d$ is then not used.

    **The update.** $b_k = s^\top B_k s / y^\top s$ is computed as
    $-\alpha_k s^\top g_k / y^\top s$ ($B_k s = -\alpha_k g_k$) with
    $\alpha_k = s^\top d / d^\top d$. The update is skipped ($H_{k+1} = H_k$,
    $\tau = \phi = 1$) without a pair (`has_pair` False), when
    $y^\top s \le \epsilon |s| |y|$, when $y^\top H_k y$, $b_k$ or $\tau_k$ is not
    positive, or when anything is not finite.

    **The direction.** $-H_{k+1} g$, or $-\gamma g$ with $H_{k+1}$ reset to
    $\gamma I$, $\gamma = \min(1, 1/|g|)$: while $H$ holds no curvature yet
    (`first` and the update skipped) and when $-H_{k+1} g$ is not a finite descent
    direction (rounding made $H$ indefinite). The new $H$ (updated, kept or reset)
    comes out of one elementwise pass over the old one.

    **Returns:** `(H, d, updated, reset, tau, phi)`.
    """
    Hg = H @ g  # the one product with H
    u = Hg + d  # H_k y = H_k g_{k+1} - H_k g_k
    ys = y @ s
    yu = y @ u
    dd = d @ d
    alpha = (s @ d) / jnp.where(dd > 0, dd, 1)
    b = -alpha * (s @ g_old) / ys
    tau, phi = scaling_parameters(method, yu / ys, b, first, s.size)
    scalars = jnp.stack([ys, yu, b, tau, phi])
    ok = (
        has_pair
        & (ys > eps * jnp.linalg.norm(s) * jnp.linalg.norm(y))
        & (yu > 0)
        & (b > 0)
        & (tau > 0)
        & jnp.all(jnp.isfinite(scalars))
        & jnp.all(jnp.isfinite(u))
    )
    z_s, z_u = _update_vectors(s, u, *update_coefficients(ys, yu, tau, phi))
    Hg_new = jnp.where(ok, Hg / tau + z_s * (s @ g) + z_u * (u @ g), Hg)
    gamma = jnp.minimum(1, 1 / jnp.linalg.norm(g))
    descent = (g @ Hg_new > 0) & jnp.all(jnp.isfinite(Hg_new))
    reset = (first & ~ok) | ~descent
    direction = jnp.where(reset, -gamma * g, -Hg_new)
    H = jnp.where(
        reset,
        _scaled_identity(gamma.astype(H.dtype), H.shape),
        jnp.where(ok, H / tau + jnp.outer(z_s, s) + jnp.outer(z_u, u), H),
    )
    one = jnp.ones_like(tau)
    return H, direction, ok, reset, jnp.where(ok, tau, one), jnp.where(ok, phi, one)
