"""NTK-based loss weights (Wang, Yu & Perdikaris 2022)."""

import jax.numpy as jnp

from ..losses import misfit_jacobian
from ..losses._combine import check_least_squares
from ._base import WeightingContext, WeightingStrategy, Weights
from ._strategies import _balanced_average, _fraction


def ntk_traces(context: WeightingContext) -> Weights:
    r"""Mean diagonal of each term's NTK block: $\frac1{n_k}\sum_i \|\partial m_k(x_i) /
    \partial\theta\|^2$.

    !!! example

        ```python
        traces = pl.weighting.ntk_traces(context)   # {"pde": ..., "ic": ...}
        ```
    """
    traces = {}
    for name, term in context.loss.terms.items():
        check_least_squares(name, term)
        J = misfit_jacobian(term, context.model, context.batch[name], context.args)
        traces[name] = jnp.sum(jnp.square(J)) / J.shape[0]
    return traces


def ntk(momentum: float = 0.9) -> WeightingStrategy:
    r"""NTK-based weights (Wang, Yu & Perdikaris 2022), with a moving average.

    "When and why PINNs fail to train: a neural tangent kernel perspective", J.
    Comput. Phys. 2022. Each term gets the weight that equalises the mean diagonal
    (per point, as in jaxpi) of its block of the neural tangent kernel
    $K = J J^\top$:

    $$\hat w_k = \frac{\sum_j \operatorname{tr} K_{jj} / n_j}{\operatorname{tr}
    K_{kk} / n_k}, \qquad w_k \leftarrow \alpha\, w_k + (1 - \alpha)\, \hat w_k .$$

    The traces come from the per-point Jacobians of the misfits
    (`pinnlib.losses.misfit_jacobian`, one reverse pass per point and component), so
    every term must be a least-squares term. Use `update_every` (e.g. 1000).

    **Arguments:** `momentum`: $\alpha \in [0, 1]$.

    !!! example

        ```python
        strategy = pl.weighting.ntk(momentum=0.9)
        step = pl.make_step(loss, adam, weighting=strategy, update_every=1000)
        ```
    """
    alpha = _fraction("pinnlib.weighting.ntk(momentum=...)", momentum)

    def init(weights):
        return dict(weights)

    def update(state, ctx):
        new = _balanced_average(state, ntk_traces(ctx), alpha)
        return new, new

    return WeightingStrategy(init, update)
