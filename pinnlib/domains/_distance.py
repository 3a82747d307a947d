r"""R-functions and NaN-free helpers for approximate distance functions.

An approximate distance function $\phi$ is positive inside a domain, zero on its
boundary and negative outside, normalised so that $\nabla\phi = -n$ on the boundary
(Sukumar & Srivastava 2022, "Exact imposition of boundary conditions with distance
functions in physics-informed deep neural networks", CMAME 389:114333). Every helper
here is differentiable to any order with finite values everywhere, including where a
square root's argument vanishes.
"""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


def safe_sqrt(s: Array) -> Array:
    """$\\sqrt{s}$ for $s > 0$ and $0$ otherwise, with finite derivatives at $s = 0$."""
    positive = s > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, s, 1)), 0)


def interior_abs(f: Array) -> Array:
    """$|f|$ whose derivative at $f = 0$ is that of $f$ (the side $f > 0$)."""
    return jnp.where(f >= 0, f, -f)


def r_conjunction(
    phi1: Float[ArrayLike, "*shape"], phi2: Float[ArrayLike, "*shape"]
) -> Float[Array, "*shape"]:
    r"""The R-conjunction (intersection) of two distance functions, positive inside.

    $$\phi_1 \wedge \phi_2 = \phi_1 + \phi_2 - \sqrt{\phi_1^2 + \phi_2^2}$$

    (Rvachev's $R_0$ system; Shapiro 2007, "Semi-analytic geometry with R-functions",
    Acta Numerica 16:239-303; Sukumar & Srivastava 2022, eq. 9.) It is positive
    exactly where both arguments are, and normalised to first order where one argument
    vanishes and the other is positive: there its gradient is that of the vanishing
    one. The square root is taken NaN-free, so derivatives stay finite where both
    vanish (corners).

    **Arguments:**

    - `phi1`, `phi2`: values of two distance functions (arrays of the same shape).

    **Returns:** an array of that shape.

    !!! example
        ```python
        r_conjunction(jnp.array(0.0), jnp.array(2.0))   # 0.0: on the boundary
        ```
    """
    phi1, phi2 = jnp.asarray(phi1), jnp.asarray(phi2)
    return phi1 + phi2 - safe_sqrt(phi1**2 + phi2**2)


def r_disjunction(
    phi1: Float[ArrayLike, "*shape"], phi2: Float[ArrayLike, "*shape"]
) -> Float[Array, "*shape"]:
    r"""The R-disjunction (union) of two distance functions, positive inside.

    $$\phi_1 \vee \phi_2 = \phi_1 + \phi_2 + \sqrt{\phi_1^2 + \phi_2^2}$$

    (Rvachev's $R_0$ system; Shapiro 2007; Sukumar & Srivastava 2022.) It is positive
    where either argument is, and normalised to first order where one argument vanishes
    and the other is negative. The complement of a domain is $-\phi$, so a difference
    $A \setminus B$ is `r_conjunction(phi_a, -phi_b)`. NaN-free like
    [`r_conjunction`][].

    **Arguments:**

    - `phi1`, `phi2`: values of two distance functions (arrays of the same shape).

    **Returns:** an array of that shape.

    !!! example
        ```python
        r_disjunction(jnp.array(0.0), jnp.array(-1.0))   # 0.0: on the boundary
        ```
    """
    phi1, phi2 = jnp.asarray(phi1), jnp.asarray(phi2)
    return phi1 + phi2 + safe_sqrt(phi1**2 + phi2**2)


def conjunction_all(values: list[Array]) -> Array:
    """The R-conjunction of several distance functions, folded left to right."""
    out = values[0]
    for value in values[1:]:
        out = r_conjunction(out, value)
    return out
