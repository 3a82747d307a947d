"""GradNorm (Chen et al. 2018) as a weighting strategy with its own optimizer."""

from typing import cast

import jax
import jax.numpy as jnp
import optax

from .._errors import bad_argument
from ._base import WeightingStrategy, term_gradient_norms


def gradnorm(
    *, alpha: float = 1.5, optimizer: optax.GradientTransformation | None = None
) -> WeightingStrategy:
    r"""GradNorm: balance the terms' training rates through their gradient norms.

    Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: gradient normalization for
    adaptive loss balancing in deep multitask networks", ICML 2018. With
    $G_k = w_k \|\nabla_\theta \mathcal{L}_k\|$, $\bar G$ their mean, and the
    relative inverse training rates $r_k = \tilde{\mathcal{L}}_k /
    \text{mean}_j \tilde{\mathcal{L}}_j$, $\tilde{\mathcal{L}}_k = \mathcal{L}_k(t)
    / \mathcal{L}_k(0)$, the weights take one step of their own `optimizer` on

    $$\mathcal{L}_\text{grad}(w) = \sum_k \big| G_k(w) - \bar G\, r_k^\alpha \big|$$

    (the target $\bar G r_k^\alpha$ held constant, as in the paper), and are then
    renormalised to $\sum_k w_k = K$, the number of terms. The gradient norms are
    taken with respect to all the model's parameters (in a PINN every parameter is
    shared by every term; the paper uses the last shared layer of a multitask
    network). $\mathcal{L}_k(0)$ is taken at the first update.

    **Arguments (keyword-only):** `alpha`: the restoring-force strength
    $\alpha \ge 0$; `optimizer`: an optax optimizer for the weights (default
    `optax.adam(1e-2)`).

    !!! example

        ```python
        strategy = pl.weighting.gradnorm(alpha=1.5)
        step = pl.make_step(loss, adam, weighting=strategy, update_every=10)
        ```
    """
    if not (isinstance(alpha, int | float) and alpha >= 0):
        raise bad_argument(
            "pinnlib.weighting.gradnorm(alpha=...)", "a number >= 0", alpha, "Pass 1.5."
        )
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer

    def init(weights):
        weights = dict(weights)
        return {
            "weights": weights,
            "initial": {k: jnp.full_like(w, jnp.nan) for k, w in weights.items()},
            "opt_state": optimizer.init(weights),
        }

    def update(state, ctx):
        names = list(ctx.terms)
        norms = term_gradient_norms(ctx)
        initial = {
            k: jnp.where(jnp.isnan(state["initial"][k]), v, state["initial"][k])
            for k, v in ctx.terms.items()
        }
        ratios = jnp.stack([ctx.terms[k] / initial[k] for k in names])
        rates = ratios / jnp.mean(ratios)
        n = jnp.stack([norms[k] for k in names])
        weights = state["weights"]
        g_mean = jnp.mean(jnp.stack([weights[k] for k in names]) * n)
        target = jax.lax.stop_gradient(g_mean * rates**alpha)

        def grad_loss(w):
            return jnp.sum(jnp.abs(jnp.stack([w[k] for k in names]) * n - target))

        grads = jax.grad(grad_loss)(weights)
        updates, opt_state = optimizer.update(grads, state["opt_state"], weights)
        # optax types its result as any pytree; here it has the weights' structure
        stepped = cast(dict, optax.apply_updates(weights, updates))
        positive = {k: jnp.maximum(stepped[k], 1e-12) for k in names}
        total = sum(positive.values())
        new = {k: len(names) * positive[k] / total for k in names}
        return new, {"weights": new, "initial": initial, "opt_state": opt_state}

    return WeightingStrategy(init, update)
