r"""Subsampled randomised cosine transforms: the sketches of sketched Levenberg–Marquardt.

A sketch $T \in \mathbb{R}^{s \times n}$ with orthonormal rows,

$$T = R\, C\, \Pi\, D,$$

$D$ a diagonal of random signs, $\Pi$ a random permutation, $C$ the orthonormal
DCT-II and $R$ the selection of $s$ of its $n$ outputs drawn without replacement
(a subsampled randomised trigonometric transform: Woolfe, Liberty, Rokhlin &
Tygert, "A fast randomized algorithm for the approximation of matrices", ACHA
2008; Tropp, "Improved analysis of the subsampled randomized Hadamard transform",
2011). Applying it costs $O(n \log n)$ per vector. $T T^\top = I_s$, and for
$s = n$ the transform is orthogonal ($T^\top T = I_n$), so a full-size sketch
changes nothing.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray


class Sketch(NamedTuple):
    """One draw of $T = R C \\Pi D$: `signs` ($D$), `order` ($\\Pi$), `rows` ($R$)."""

    signs: Float[Array, " n"]
    order: Int[Array, " n"]
    rows: Int[Array, " s"]


def draw(key: PRNGKeyArray, n: int, s: int, dtype) -> Sketch:
    """A fresh `Sketch` mapping $\\mathbb{R}^n$ to $\\mathbb{R}^s$ ($s \\le n$)."""
    k_signs, k_order, k_rows = jax.random.split(key, 3)
    signs = jax.random.rademacher(k_signs, (n,), dtype)
    order = jax.random.permutation(k_order, n)
    rows = jax.random.permutation(k_rows, n)[:s]
    return Sketch(signs, order, rows)


def apply(sketch: Sketch, x: Float[Array, "n ..."]) -> Float[Array, "s ..."]:
    """$T x$, along the leading axis of `x`."""
    signs = sketch.signs.reshape((-1,) + (1,) * (x.ndim - 1))
    mixed = jax.scipy.fft.dct((signs * x)[sketch.order], norm="ortho", axis=0)
    return mixed[sketch.rows]


def lift(sketch: Sketch, y: Float[Array, " s"]) -> Float[Array, " n"]:
    """$T^\\top y$: from the sketched space back to $\\mathbb{R}^n$."""
    full = jnp.zeros(sketch.signs.shape, y.dtype).at[sketch.rows].set(y)
    unmixed = jax.scipy.fft.idct(full, norm="ortho")
    return sketch.signs * jnp.zeros_like(unmixed).at[sketch.order].set(unmixed)
