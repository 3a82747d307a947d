"""Weighting strategies: fixed, scheduled, gradient-norm annealing, SoftAdapt, ReLoBRaLo."""

from collections.abc import Mapping

import jax
import jax.numpy as jnp

from .._errors import bad_argument
from ._base import WeightingStrategy, term_gradient_norms


def _fraction(where: str, value: float, *, closed: bool = True) -> float:
    ok = 0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0
    if not (isinstance(value, int | float) and ok):
        raise bad_argument(where, "a number in [0, 1]", value, "Pass e.g. 0.9.")
    return float(value)


def _balanced_average(weights, scores, alpha: float):
    """$w_k \\leftarrow \\alpha w_k + (1 - \\alpha) \\sum_j s_j / s_k$: weights that equalise
    the scores $s_k$ (gradient norms, NTK traces), as a moving average."""
    total = sum(scores.values())
    return {
        k: alpha * weights[k] + (1 - alpha) * total / (scores[k] + 1e-30)
        for k in weights
    }


def fixed() -> WeightingStrategy:
    r"""Keep the weights as they are: $w_k(t) = w_k(0)$.

    !!! example

        ```python
        strategy = pl.weighting.fixed()
        ```
    """
    return WeightingStrategy(
        lambda weights: None, lambda state, ctx: (dict(ctx.weights), state)
    )


def scheduled(schedules) -> WeightingStrategy:
    r"""Weights from optax schedules of the step: $w_k(t) = s_k(t)$.

    Any optax schedule works (`optax.linear_schedule`, `optax.exponential_decay`,
    `optax.cosine_decay_schedule`, `optax.piecewise_constant_schedule`, ...); terms
    without a schedule keep their weight.

    **Arguments:** `schedules`: `{term: schedule}`, each `schedule(step) -> scalar`.

    !!! example

        ```python
        strategy = pl.weighting.scheduled(
            {"bc": optax.linear_schedule(1.0, 100.0, transition_steps=5000)}
        )
        ```
    """
    if not isinstance(schedules, Mapping) or not all(map(callable, schedules.values())):
        raise bad_argument(
            "pinnlib.weighting.scheduled(schedules=...)",
            "a dict {term: schedule(step)}",
            schedules,
            "Pass e.g. {'bc': optax.linear_schedule(1.0, 100.0, 5000)}.",
        )

    def update(state, ctx):
        return {
            k: (schedules[k](ctx.step) if k in schedules else w)
            for k, w in ctx.weights.items()
        }, state

    return WeightingStrategy(lambda weights: None, update)


def gradient_norm_annealing(momentum: float = 0.9) -> WeightingStrategy:
    r"""Learning-rate annealing by gradient norms (Wang, Teng & Perdikaris 2021).

    "Understanding and mitigating gradient flow pathologies in physics-informed
    neural networks", SIAM J. Sci. Comput. 2021, in the balanced form of its
    follow-up work: each term's weight makes its gradient as large as the sum of all,

    $$\hat w_k = \frac{\sum_j \|\nabla_\theta \mathcal{L}_j\|}{\|\nabla_\theta
    \mathcal{L}_k\|}, \qquad w_k \leftarrow \alpha\, w_k + (1 - \alpha)\, \hat w_k,$$

    a moving average with momentum $\alpha$. Costs one reverse pass per term at each
    update (use `update_every`, e.g. 100 or 1000).

    **Arguments:** `momentum`: $\alpha \in [0, 1]$.

    !!! example

        ```python
        strategy = pl.weighting.gradient_norm_annealing(momentum=0.9)
        step = pl.make_step(loss, adam, weighting=strategy, update_every=100)
        ```
    """
    alpha = _fraction(
        "pinnlib.weighting.gradient_norm_annealing(momentum=...)", momentum
    )

    def init(weights):
        return dict(weights)

    def update(state, ctx):
        new = _balanced_average(state, term_gradient_norms(ctx), alpha)
        return new, new

    return WeightingStrategy(init, update)


def softadapt(beta: float = 0.1) -> WeightingStrategy:
    r"""SoftAdapt (Heydari, Thompson & Mehmood 2019): favour the slowest-falling terms.

    With the change of each term since the last update, $s_k = \mathcal{L}_k(t) -
    \mathcal{L}_k(t')$,

    $$w_k = K\,\frac{e^{\beta s_k}}{\sum_j e^{\beta s_j}}$$

    (the first update, without a previous value, gives equal weights).

    **Arguments:** `beta`: $\beta \ge 0$, the softmax temperature's inverse.

    !!! example

        ```python
        strategy = pl.weighting.softadapt(beta=0.1)
        ```
    """
    if not (isinstance(beta, int | float) and beta >= 0):
        raise bad_argument(
            "pinnlib.weighting.softadapt(beta=...)", "a number >= 0", beta, "Pass 0.1."
        )

    def init(weights):
        return {k: jnp.full_like(w, jnp.nan) for k, w in weights.items()}

    def update(previous, ctx):
        change = {
            k: jnp.where(jnp.isnan(previous[k]), 0.0, v - previous[k])
            for k, v in ctx.terms.items()
        }
        return _softmax_weights(change, beta), dict(ctx.terms)

    return WeightingStrategy(init, update)


def _softmax_weights(scores, scale):
    names = list(scores)
    values = jnp.stack([scores[k] for k in names])
    soft = jax.nn.softmax(scale * values)
    return {k: len(names) * soft[i] for i, k in enumerate(names)}


def relobralo(
    *, alpha: float = 0.999, temperature: float = 0.1, expected_rho: float = 0.999
) -> WeightingStrategy:
    r"""ReLoBRaLo (Bischof & Kraus 2021): relative loss balancing with random lookback.

    "Multi-objective loss balancing for physics-informed deep learning" (2021). With
    the balancing weights relative to the losses at an earlier time $t'$,

    $$\lambda^{bal}_k(t, t') = K \frac{\exp\big(\mathcal{L}_k(t) / (\tau
    \mathcal{L}_k(t'))\big)}{\sum_j \exp\big(\mathcal{L}_j(t) / (\tau
    \mathcal{L}_j(t'))\big)},$$

    $$\lambda_k(t) = \alpha\big(\rho\,\lambda_k(t-1) + (1-\rho)\,\lambda^{bal}_k(t,
    0)\big) + (1 - \alpha)\,\lambda^{bal}_k(t, t-1),$$

    with $\rho \sim \text{Bernoulli}(\mathbb{E}[\rho])$ drawn from a key in the state
    (so a resumed run draws the same). Here $t - 1$ is the previous update.

    **Arguments (keyword-only):** `alpha`, `temperature` $\tau > 0$,
    `expected_rho`.

    !!! example

        ```python
        strategy = pl.weighting.relobralo(alpha=0.999, temperature=0.1)
        ```
    """
    where = "pinnlib.weighting.relobralo"
    alpha = _fraction(f"{where}(alpha=...)", alpha)
    expected_rho = _fraction(f"{where}(expected_rho=...)", expected_rho)
    if not (isinstance(temperature, int | float) and temperature > 0):
        raise bad_argument(
            f"{where}(temperature=...)", "a number > 0", temperature, "Pass 0.1."
        )

    def init(weights):
        nan = {k: jnp.full_like(w, jnp.nan) for k, w in weights.items()}
        return {
            "weights": dict(weights),
            "first": nan,
            "last": nan,
            "key": jax.random.key(0),
        }

    def update(state, ctx):
        terms = ctx.terms
        first = {
            k: jnp.where(jnp.isnan(state["first"][k]), v, state["first"][k])
            for k, v in terms.items()
        }
        last = {
            k: jnp.where(jnp.isnan(state["last"][k]), v, state["last"][k])
            for k, v in terms.items()
        }

        def balance(reference):
            ratios = {k: terms[k] / (temperature * reference[k] + 1e-30) for k in terms}
            return _softmax_weights(ratios, 1.0)

        key, draw = jax.random.split(state["key"])
        rho = jax.random.bernoulli(draw, expected_rho).astype(
            terms[next(iter(terms))].dtype
        )
        to_first, to_last = balance(first), balance(last)
        new = {
            k: alpha * (rho * state["weights"][k] + (1 - rho) * to_first[k])
            + (1 - alpha) * to_last[k]
            for k in terms
        }
        return new, {"weights": new, "first": first, "last": dict(terms), "key": key}

    return WeightingStrategy(init, update)
