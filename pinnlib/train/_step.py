"""``make_step``: one pure optimizer step on a ``TrainState``."""

from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, PyTree

from .._custom_types import Args
from .._dtypes import float_dtype
from .._errors import bad_argument, check_positive_int
from ..losses._jacobian import jacobian_at
from ..sampling import SamplingContext
from ..sampling._base import sampling_key
from ..weighting import WeightingContext
from ._coefficients import with_coefficients
from ._state import TrainState, check_loss
from ._vmap import periodic

Step = Callable[[TrainState, PyTree, Args], tuple[TrainState, dict[str, Array]]]


def _stored_value_and_grad(where: str, opt_state):
    value, grad = optax.tree.get(opt_state, "value"), optax.tree.get(opt_state, "grad")
    if value is None or grad is None:
        raise bad_argument(
            where,
            "an optimizer whose state stores `value` and `grad` (optax.lbfgs)",
            type(opt_state).__name__,
            "Use reuse_value=False for other optimizers.",
        )
    return value, grad


def _learning_rate(opt_state) -> Array | None:
    """The optimizer's current learning rate, if its state records one.

    `optax.inject_hyperparams` stores it (the schedule's value at this step); a
    line search (`optax.lbfgs`, `pinnlib.optim.gauss_newton`) stores the accepted
    step length. None if absent or ambiguous (several found).
    """
    found = [
        value
        for _, value in optax.tree.get_all_with_path(opt_state, "learning_rate")
        if eqx.is_inexact_array(value) and value.shape == ()
    ]
    return found[0] if len(found) == 1 else None


def _check_opt_state_dtypes(opt_state, params) -> None:
    """Raise if the optimizer holds per-parameter arrays narrower than the parameters.

    That happens when a model is cast to float64 but keeps its float32 optimizer
    state. Scalars are not checked (`optax.inject_hyperparams` keeps float32
    hyperparameters), nor wider arrays (`optax.lbfgs` keeps a float64 memory of
    weights for float32 parameters under x64); both are harmless.
    """
    dtypes = {p.dtype for p in jax.tree.leaves(params)}
    bits = min((jnp.finfo(d).bits for d in dtypes), default=0)
    for leaf in jax.tree.leaves(opt_state):
        narrower = eqx.is_inexact_array(leaf) and jnp.finfo(leaf.dtype).bits < bits
        if narrower and leaf.ndim > 0:
            raise TypeError(
                f"pinnlib.make_step(...)(state=...): the optimizer state holds "
                f"{leaf.dtype} arrays but the model's parameters are "
                f"{sorted(str(d) for d in dtypes)}. Re-initialise the optimizer after "
                "changing the model's dtype: pl.switch_optimizer(state, optimizer, "
                "dtype=...)."
            )


def _same_types(new, old):
    """`new` with the dtypes of `old`, leaf by leaf: the loop's carry keeps its type."""
    return jax.tree.map(lambda n, o: jnp.asarray(n, o.dtype), new, old)


def _updated_weights(weighting, every, state, context):
    """The weights and strategy state after this step (updated every `every` steps).

    The outputs keep the dtypes of the inputs, so both branches agree and the
    compiled loop's carry never changes type.
    """

    def update():
        weights, inner = weighting.update(state.weighting_state, context)
        weights = {
            k: jnp.asarray(jax.lax.stop_gradient(weights[k]), w.dtype)
            for k, w in state.weights.items()
        }
        inner = _same_types(inner, state.weighting_state)
        return weights, inner

    old = (dict(state.weights), state.weighting_state)
    return periodic(state.step % every == 0, update, old)


def _updated_points(sampling, every, state, loss, args):
    """The strategy's points and state at this step (updated at steps every, 2 every...).

    Shapes and dtypes are kept, so both branches agree.
    """

    def update():
        context = SamplingContext(
            loss,
            state.model,
            args,
            sampling_key(state.key, state.step),
            state.step,
            dict(state.points),
        )
        points, inner = sampling.update(state.sampling_state, context)
        if set(points) != set(state.points):
            raise bad_argument(
                "pinnlib.training(sampling=...)",
                f"an update returning points for {sorted(state.points)}",
                sorted(points),
                "Return the same point sets that the strategy's init returned.",
            )
        points = {
            k: jnp.asarray(jax.lax.stop_gradient(points[k]), p.dtype).reshape(p.shape)
            for k, p in state.points.items()
        }
        inner = _same_types(inner, state.sampling_state)
        return points, inner

    old = (dict(state.points), state.sampling_state)
    return periodic((state.step > 0) & (state.step % every == 0), update, old)


def _check_made_by(what: str, make, found, describe=jax.tree.structure) -> None:
    """Raise if `found` (the state's `what`) is not the structure `make()` gives.

    `make` is evaluated abstractly (`jax.eval_shape`): nothing is computed.
    """
    expected = jax.eval_shape(make)
    if jax.tree.structure(expected) != jax.tree.structure(found):
        raise TypeError(
            f"pinnlib.training(...).step(state=...): the state's {what} is "
            f"{describe(found)}, but this training makes {describe(expected)}. "
            "Start the state with this training: training.init(model, key=...), "
            "or continue another phase's state with training.switch(state)."
        )


def needs_residuals(opt_state) -> bool:
    """Whether a state inside `opt_state` declares `needs_residuals = True`.

    The protocol of least-squares optimizers (Gauss–Newton, natural gradient): the
    optimizer's state (a node anywhere in the optimizer state, so it is found inside
    `optax.chain` and wrappers) has the class attribute `needs_residuals = True`,
    and its `update` then receives the keyword arguments `residual_fn` and
    `jacobian_fn`.
    """
    marked = lambda x: getattr(type(x), "needs_residuals", False) is True  # noqa: E731
    return any(marked(x) for x in jax.tree.leaves(opt_state, is_leaf=marked))


def _describe(opt_state) -> str:
    """The type names of an optimizer state, e.g. `(ScaleByAdamState, EmptyState)`."""
    if type(opt_state) in (tuple, list):
        return "(" + ", ".join(_describe(x) for x in opt_state) + ")"
    return type(opt_state).__name__


def _coefficient_metrics(coefficients) -> dict[str, Array]:
    """`{"coef:name": value}` (one entry per element of an array coefficient)."""
    out = {}
    for name, c in (coefficients or {}).items():
        value = jax.lax.stop_gradient(c.value)
        if value.ndim == 0:
            out[f"coef:{name}"] = value
        else:
            for i, v in enumerate(value.reshape(-1)):
                out[f"coef:{name}[{i}]"] = v
    return out


def build_step(
    loss,
    optimizer: optax.GradientTransformation,
    *,
    reuse_value: bool = False,
    weighting=None,
    update_every: int = 1,
    sampling=None,
    sample_every: int = 1,
    where: str = "pinnlib.training",
) -> Step:
    """The pure step of a training definition (see `pinnlib.training`)."""
    check_loss(f"{where}(loss=...)", loss)
    if not hasattr(optimizer, "update") or not hasattr(optimizer, "init"):
        raise bad_argument(
            f"{where}(optimizer=...)",
            "an optax GradientTransformation",
            type(optimizer).__name__,
            "Pass e.g. optax.adam(1e-3) or optax.lbfgs().",
        )
    update_every = check_positive_int(f"{where}(update_every=...)", update_every)
    sample_every = check_positive_int(f"{where}(sample_every=...)", sample_every)
    if sampling is not None and reuse_value:
        raise bad_argument(
            f"{where}(reuse_value=True)",
            "fixed points (no sampling strategy)",
            "a sampling strategy",
            "The stored loss belongs to the previous points; use reuse_value=False.",
        )
    init_optimizer = optimizer.init
    optimizer = optax.with_extra_args_support(optimizer)

    def step(
        state: TrainState, batch: Mapping | None, args: Args = None
    ) -> tuple[TrainState, dict[str, Float[Array, ""]]]:
        if weighting is not None:
            init_weighting = weighting.init
            _check_made_by(
                "weighting state",
                lambda: init_weighting(state.weights),
                state.weighting_state,
            )
        # What strategies see: the coefficients' current values, not differentiated.
        # (Only arrays: args may hold functions, such as a source term.)
        current_args = jax.tree.map(
            lambda a: jax.lax.stop_gradient(a) if eqx.is_array(a) else a,
            with_coefficients(args, state.coefficients),
        )
        if sampling is not None:
            if state.points is None:
                raise bad_argument(
                    f"{where}(sampling=...).step(state=...)",
                    "a state holding the strategy's points",
                    "state.points = None",
                    "Build the state with training.init(...) of the same "
                    "pl.training(..., sampling=strategy) (or pl.init_state(..., "
                    "sampling=strategy)).",
                )
            points, sampling_state = _updated_points(
                sampling,
                sample_every,
                state,
                loss,
                current_args,
            )
            state = eqx.tree_at(
                lambda s: (s.points, s.sampling_state),
                state,
                (points, sampling_state),
                is_leaf=lambda x: x is None,
            )
            batch = {**(batch or {}), **points}
        batch = {} if batch is None else batch
        # The optimizer updates the model's inexact arrays, and the trainable
        # coefficients' when there are any (then as the pair (model, coefficients)).
        joint, static = eqx.partition(
            (state.model, state.coefficients), eqx.is_inexact_array
        )
        learns_coefficients = bool(state.coefficients)
        params = joint if learns_coefficients else joint[0]
        _check_made_by(
            "optimizer state",
            lambda: init_optimizer(params),
            state.opt_state,
            _describe,
        )
        _check_opt_state_dtypes(state.opt_state, params)

        def split(p):
            """(model, coefficients) at trainables `p`."""
            return eqx.combine(p if learns_coefficients else (p, joint[1]), static)

        def rebuild(p):
            """(model, args with the coefficients' values) at trainables `p`."""
            model, coefficients = split(p)
            return model, with_coefficients(args, coefficients)

        def evaluate(p):
            model, full_args = rebuild(p)
            return loss(model, batch, state.weights, full_args)

        def in_model_dtypes(trial):
            # Line searches (optax.lbfgs) may form trial points in a wider dtype
            # (float64 step sizes under x64); evaluate them in the model's dtypes.
            return jax.tree.map(lambda t, p: t.astype(p.dtype), trial, params)

        def value_fn(trial):
            return evaluate(in_model_dtypes(trial))[0]

        def residual_fn(trial):
            model, full_args = rebuild(in_model_dtypes(trial))
            return loss.residuals(model, batch, state.weights, full_args)

        def jacobian_fn(trial):
            trial = in_model_dtypes(trial)
            return jacobian_at(loss, rebuild, trial, batch, state.weights)

        if reuse_value:
            stored, stored_grad = _stored_value_and_grad(
                f"{where}(reuse_value=True)", state.opt_state
            )
            total, grads = jax.lax.cond(
                jnp.isfinite(stored),
                lambda: (
                    stored.astype(float_dtype(params) or stored.dtype),
                    stored_grad,
                ),
                lambda: jax.value_and_grad(value_fn)(params),
            )
            terms = evaluate(params)[1]
        else:
            # A loss that computes its value and gradient per device
            # (`pinnlib.parallel.data_parallel`) may do so; None means it cannot.
            per_device = getattr(loss, "value_and_grad", None)
            found: Any = None
            if callable(per_device):
                found = per_device(rebuild, params, batch, state.weights, args)
            if found is None:
                (total, terms), grads = jax.value_and_grad(evaluate, has_aux=True)(
                    params
                )
            else:
                (total, terms), grads = found
        extra = {}
        if needs_residuals(state.opt_state):
            extra = {"residual_fn": residual_fn, "jacobian_fn": jacobian_fn}
        updates, opt_state = optimizer.update(
            grads,
            state.opt_state,
            params,
            value=total,
            grad=grads,
            value_fn=value_fn,
            **extra,
        )
        model, coefficients = split(optax.apply_updates(params, updates))
        weights, weighting_state = state.weights, state.weighting_state
        if weighting is not None:
            context = WeightingContext(
                loss,
                state.model,
                batch,
                current_args,
                terms,
                state.weights,
                state.step,
            )
            weights, weighting_state = _updated_weights(
                weighting, update_every, state, context
            )
        new_state = eqx.tree_at(
            lambda s: (
                s.model,
                s.opt_state,
                s.step,
                s.weights,
                s.weighting_state,
                s.coefficients,
            ),
            state,
            (model, opt_state, state.step + 1, weights, weighting_state, coefficients),
            is_leaf=lambda x: x is None,
        )
        metrics = {"loss": total, "grad_norm": optax.tree.norm(grads), **terms}
        metrics.update({f"weight:{k}": w for k, w in state.weights.items()})
        metrics.update(_coefficient_metrics(state.coefficients))
        lr = _learning_rate(opt_state)
        if lr is not None:
            metrics["lr"] = lr
        return new_state, metrics

    return step


def make_step(
    loss,
    optimizer: optax.GradientTransformation,
    *,
    reuse_value: bool = False,
    weighting=None,
    update_every: int = 1,
    sampling=None,
    sample_every: int = 1,
) -> Step:
    r"""Build a pure training step `step(state, batch, args=None) -> (state, metrics)`.

    The step of `pinnlib.training(loss, optimizer, ...)`, which also gives the
    matching initial state (`training.init`): prefer it, so the optimizer and
    strategies are given once.

    One step evaluates $\mathcal{L}(\theta) = \sum_k w_k \mathcal{L}_k(\theta)$ and
    its gradient with one reverse pass (`jax.value_and_grad` of the total, not one
    gradient per term), then applies
    `updates = optimizer.update(grads, opt_state, params, value=L, grad=grads,
    value_fn=...)` and `optax.apply_updates`. The extra keyword arguments are what
    line-search optimizers such as `optax.lbfgs` need; other optax transformations
    ignore them, so any optax optimizer works unchanged. A loss with a
    `value_and_grad` method (`pinnlib.parallel.data_parallel`: per device, summed
    once) gives the value and gradient itself, unless it returns `None`. A
    `pinnlib.optim.gauss_newton` optimizer also receives `residual_fn`, the weighted
    residual vector (`CompositeLoss.residuals`) as a function of the parameters,
    and `jacobian_fn`, that vector with its Jacobian
    (`pinnlib.losses.residual_jacobian`).

    Learning-rate schedules belong inside the optimizer, as its learning rate
    (`optax.adam(schedule)`), never as a gradient scaling before Adam, which Adam's
    normalisation would cancel. To see the rate in the history, inject it:
    `optax.inject_hyperparams(optax.adam)(learning_rate=schedule)`.

    **Arguments:**

    - `loss`: a `CompositeLoss` from `pinnlib.losses.combine`.
    - `optimizer`: an optax `GradientTransformation` (the same one used in
      `pinnlib.init_state`).
    - `reuse_value`: for line-search optimizers (`optax.lbfgs`) on *fixed* points:
      take the loss and gradient at the current parameters from the line search of
      the previous step (where they were already computed) instead of recomputing
      them; the per-term values are then a forward evaluation only. This saves about
      one gradient evaluation per step. Do not combine with resampling (the stored
      values belong to the previous points). Keyword-only.
    - `weighting`: a loss-weighting strategy (`pinnlib.weighting`), updated at the
      steps $s$ with $s \bmod k = 0$, $k$ = `update_every`, after the gradient step;
      the new weights apply from the next step. Initialise its state with
      `pinnlib.init_state(..., weighting=...)`. Keyword-only.
    - `sampling`: a sampling strategy (`pinnlib.sampling`) owning the points of
      some loss terms, updated at the steps $s > 0$ with $s \bmod k = 0$, $k$ =
      `sample_every`, *before* the loss is evaluated; its points (kept in
      `state.points`) replace those of the same names in `batch`. Initialise it
      with `pinnlib.init_state(..., sampling=...)`. Keyword-only.

    **Returns:** `step(state, batch, args=None)`, pure and jittable, where `batch` is a
    dict `{term: points}` and `metrics` is `{"loss": total, "grad_norm": |g|, term:
    value, ..., "weight:term": w, ...}` (the loss weights in use), all evaluated at
    the parameters *before* the update, plus `"lr"` when the optimizer state records
    a learning rate (`optax.inject_hyperparams`, or the step length of a line
    search: `optax.lbfgs`, `gauss_newton`).

    **Raises:** `TypeError` at trace time when the optimizer state's arrays have a
    narrower float dtype than the model's (e.g. a model cast to float64 with its
    float32 Adam state: use `pinnlib.switch_optimizer(state, opt, dtype=...)`).

    !!! example

        ```python
        step = pl.make_step(loss, optax.adam(1e-3))
        state, metrics = eqx.filter_jit(step)(state, batch, {"nu": 0.01 / jnp.pi})

        schedule = optax.warmup_cosine_decay_schedule(0.0, 1e-3, 500, 20_000)
        adam = optax.inject_hyperparams(optax.adam)(learning_rate=schedule)
        step = pl.make_step(loss, optax.chain(optax.clip_by_global_norm(1.0), adam))
        ```
    """
    return build_step(
        loss,
        optimizer,
        reuse_value=reuse_value,
        weighting=weighting,
        update_every=update_every,
        sampling=sampling,
        sample_every=sample_every,
        where="pinnlib.make_step",
    )
