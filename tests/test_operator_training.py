"""Training operators on data: minibatch epochs, operator loss terms, the runner."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pinnlib as pl


def _batches(n=24, batch_size=6):
    inputs = jnp.arange(n, dtype=jnp.float32)[:, None] * jnp.ones((1, 3))
    return pl.data.minibatches({"data": (inputs, 2 * inputs)}, batch_size)


def test_every_epoch_visits_every_sample_exactly_once_in_a_new_order():
    batches = _batches()
    key = jax.random.key(0)
    assert batches.steps_per_epoch == {"data": 4}
    orders = []
    for epoch in range(3):
        taken = [batches.at_step(key, 4 * epoch + j)["data"] for j in range(4)]
        inputs = np.concatenate([x for x, _ in taken])[:, 0]
        targets = np.concatenate([y for _, y in taken])[:, 0]
        assert sorted(inputs.astype(int).tolist()) == list(range(24))
        np.testing.assert_array_equal(targets, 2 * inputs)  # pairs stay together
        orders.append(inputs)
    assert not np.array_equal(orders[0], orders[1])


def test_entries_have_their_own_epochs():
    batches = pl.data.minibatches(
        {
            "pairs": (jnp.zeros((10, 2)), jnp.zeros((10, 2))),
            "inputs": jnp.zeros((40, 2)),
        },
        {"pairs": 5, "inputs": 4},
    )
    assert batches.steps_per_epoch == {"pairs": 2, "inputs": 10}
    key = jax.random.key(1)
    seen = np.concatenate([batches.indices(key, s)["inputs"] for s in range(10)])
    assert sorted(seen.tolist()) == list(range(40))
    batch = batches(key)
    assert batch["pairs"][0].shape == (5, 2) and batch["inputs"].shape == (4, 2)


def test_the_runner_draws_the_minibatch_of_each_step():
    """Inside `pl.run`, step s trains on `at_step(state.key, s)`: record the batches."""
    batches = _batches()

    def seen(model, entry, args):  # a loss term that reports the batch's first input
        return jnp.sum(model.w * 0) + entry[0][0, 0]

    training = pl.training(pl.losses.combine(data=seen), optax.sgd(0.0))

    class Field(eqx.Module):
        w: jax.Array

        def __call__(self, x):
            return self.w * x

    state = training.init(Field(jnp.ones(3)), key=jax.random.key(3))
    out = pl.run(training, state, batches, 9, resample_every=1)
    expected = [batches.at_step(state.key, s)["data"][0][0, 0] for s in range(9)]
    np.testing.assert_array_equal(out.metrics["data"], np.array(expected))


def test_minibatches_need_a_resampling_period_and_a_divisor():
    training = pl.training(
        pl.losses.combine(data=pl.losses.relative_l2()), optax.adam(1e-3)
    )
    state = training.init(lambda x: x, key=jax.random.key(0))
    with pytest.raises(ValueError, match="resample_every=1"):
        pl.fit(training, state, _batches(), 2, progress=False)
    with pytest.raises(ValueError, match="divisor of its 24 samples"):
        _batches(24, 5)
    with pytest.raises(ValueError, match="samples, the same in every array"):
        pl.data.minibatches({"d": (jnp.zeros((4, 2)), jnp.zeros((5, 2)))}, 2)
    with pytest.raises(ValueError, match="non-empty dict"):
        pl.data.minibatches([jnp.zeros(4)], 2)


def test_relative_l2_and_data_terms_on_samples():
    a = jax.random.normal(jax.random.key(0), (5, 1, 8))
    model = lambda x: 2 * x
    targets = jnp.concatenate([2 * a[:4], 3 * a[4:]])
    # one sample off by half its size: (0 + 0 + 0 + 0 + 1/3) / 5
    np.testing.assert_allclose(
        pl.losses.relative_l2()(model, (a, targets)), 1 / 15, rtol=1e-6
    )
    np.testing.assert_allclose(
        pl.losses.data()(model, (a, targets)),
        jnp.sum(a[4] ** 2) / 5,
        rtol=1e-6,
    )
    # a tuple of inputs is passed as positional arguments (a DeepONet's (u, y))
    u, y = jnp.ones((5, 4)), jnp.ones((5, 3, 1))
    both = lambda u, y: jnp.sum(u) * y[:, 0]
    assert pl.losses.data()(both, ((u, y), 4 * jnp.ones((5, 3)))) == 0.0
    loss = pl.losses.combine(data=pl.losses.relative_l2())
    total, terms = loss(model, {"data": (a, targets)}, loss.init_weights())
    np.testing.assert_allclose(total, 1 / 15, rtol=1e-6)


def test_operator_terms_explain_bad_entries():
    term = pl.losses.relative_l2()
    a = jnp.ones((4, 1, 8))
    with pytest.raises(ValueError, match="a tuple \\(inputs, targets\\)"):
        term(lambda x: x, a)
    with pytest.raises(ValueError, match="targets of the predictions' shape"):
        term(lambda x: x, (a, jnp.ones((4, 8))))
    with pytest.raises(ValueError, match="same leading"):
        pl.losses.data()(lambda u, y: y, ((jnp.ones((4, 2)), jnp.ones((3, 2))), a))


def test_an_ensemble_of_operators_trains_under_vmap_as_each_alone():
    """Two FNOs on minibatches in one vmapped run: each equals its own run."""
    inputs = jax.random.normal(jax.random.key(0), (8, 1, 16))
    batches = pl.data.minibatches({"data": (inputs, jnp.tanh(inputs))}, 4)
    training = pl.training(
        pl.losses.combine(data=pl.losses.relative_l2()), optax.adam(1e-2)
    )

    def init(key):
        fno = pl.nn.FNO(1, 1, modes=4, width=4, depth=1, projection=4, key=key)
        return training.init(fno, key=key)

    keys = jax.random.split(jax.random.key(1), 2)
    states = eqx.filter_vmap(init)(keys)
    runs = eqx.filter_vmap(lambda s: pl.run(training, s, batches, 6, resample_every=1))(
        states
    )
    for member, key in enumerate(keys):
        alone = pl.run(training, init(key), batches, 6, resample_every=1)
        np.testing.assert_allclose(
            runs.metrics["loss"][member], alone.metrics["loss"], rtol=1e-5
        )


@pytest.mark.parametrize("n", [1, 2, 3, 24, 1000, 1025])
def test_the_epoch_permutation_is_a_bijection_of_the_samples(n):
    from pinnlib.data._minibatch import permuted

    order = np.asarray(permuted(jax.random.key(n), jnp.arange(n), n))
    assert sorted(order.tolist()) == list(range(n))
    if n > 3:  # and another key gives another order
        other = np.asarray(permuted(jax.random.key(n + 1), jnp.arange(n), n))
        assert not np.array_equal(order, other)
