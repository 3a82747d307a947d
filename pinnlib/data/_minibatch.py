"""Minibatches of a data set, reshuffled every epoch inside the compiled loop."""

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Int, PRNGKeyArray, PyTree

from .._errors import bad_argument, check_positive_int, check_samples

_ROUNDS = 6


def _mix(x: Array) -> Array:
    """A 32-bit integer hash (Wellons' "lowbias32"): every bit affects every bit."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def permuted(key: PRNGKeyArray, positions: Int[Array, " b"], n: int) -> Array:
    r"""$\pi(p)$ for the given positions $p$ of a random permutation $\pi$ of $0..n-1$.

    A keyed Feistel network on the $4^h \ge n$ integers of $2h$ bits (six rounds,
    each mixing one half with a hash of the other and a round key drawn from `key`),
    restricted to $0..n-1$ by cycle walking: an image $\ge n$ is mapped again until it
    falls below $n$, which keeps the map a bijection of $0..n-1$ (Black & Rogaway,
    "Ciphers with arbitrary finite domains", CT-RSA 2002). It costs $O(b)$ for $b$
    positions, against $O(n \log n)$ for `jax.random.permutation`, so a minibatch
    of a large data set is found without sorting the whole set every step.
    """
    half = max((int(n) - 1).bit_length() + 1, 2) // 2
    mask = jnp.uint32((1 << half) - 1)
    round_keys = jax.random.bits(key, (_ROUNDS,), jnp.uint32)

    def encrypt(x):
        left, right = x >> half, x & mask
        for k in round_keys:
            left, right = right, left ^ (_mix(right ^ k) & mask)
        return (left << half) | right

    def walk(x):
        return jnp.where(x >= n, encrypt(x), x)

    start = encrypt(positions.astype(jnp.uint32))
    out = jax.lax.while_loop(lambda x: jnp.any(x >= n), walk, start)
    return out.astype(jnp.int32)


class Minibatches(eqx.Module):
    r"""A data set as a sampler of minibatches: made by `pinnlib.data.minibatches`.

    Step $s$ of term $k$ (with $n_k$ samples in batches of $b_k$, so $E_k = n_k /
    b_k$ steps per epoch) takes the samples

    $$\pi_{k,e}\big[j b_k : (j + 1) b_k\big], \qquad e = \lfloor s / E_k \rfloor,
      \quad j = s \bmod E_k,$$

    with $\pi_{k,e}$ a random permutation of $0..n_k-1$ keyed by
    $\text{fold\_in}(\text{fold\_in}(\text{key}, k), e)$: every epoch visits every
    sample exactly once, in a new order, and the batch is a pure function of the
    key and the step, so a resumed run sees the batches it would have seen. Only the
    $b_k$ entries of $\pi_{k,e}$ a step needs are computed (a keyed Feistel network
    with cycle walking), so a step costs the same for a thousand samples as for a
    million.

    It implements the step-aware sampler protocol: `at_step(key, step) -> batch`,
    which `pinnlib.draw_batch` (and so `pinnlib.fit` and `pinnlib.run` with
    `resample_every=1`) calls instead of `sampler(key)`. Called as `sampler(key)`
    it draws one batch of each term without replacement, independently of the step.

    **Fields:** `data` (the arrays, a dict of entries) and `batch_sizes` (a dict).

    !!! example

        ```python
        batches = pl.data.minibatches({"data": (inputs, targets)}, batch_size=20)
        batches.steps_per_epoch                      # {"data": n // 20}
        batch = batches.at_step(jax.random.key(0), 7)
        ```
    """

    data: dict[str, PyTree[Array]]
    batch_sizes: dict[str, int] = eqx.field(static=True)
    sizes: dict[str, int] = eqx.field(static=True)

    @property
    def steps_per_epoch(self) -> dict[str, int]:
        """`{name: n // batch_size}`: the steps that make one epoch of each entry."""
        return {k: self.sizes[k] // self.batch_sizes[k] for k in self.data}

    def indices(
        self, key: PRNGKeyArray, step: Int[Array, ""] | int
    ) -> dict[str, Int[Array, " b"]]:
        """`{name: (batch_size,)}`: the indices of the samples taken at `step`."""
        picked = {}
        for index, name in enumerate(self.data):
            per_epoch = self.steps_per_epoch[name]
            epoch, within = jnp.divmod(jnp.asarray(step), per_epoch)
            epoch_key = jax.random.fold_in(jax.random.fold_in(key, index), epoch)
            size = self.batch_sizes[name]
            positions = within * size + jnp.arange(size)
            picked[name] = permuted(epoch_key, positions, self.sizes[name])
        return picked

    def at_step(self, key: PRNGKeyArray, step: Int[Array, ""] | int) -> dict:
        """The batch at `step`: `{name: entry}` with `batch_size` samples each."""
        picked = self.indices(key, step)
        return {
            name: jax.tree.map(lambda x: jnp.take(x, picked[name], axis=0), entry)
            for name, entry in self.data.items()
        }

    def __call__(self, key: PRNGKeyArray) -> dict:
        """One batch of each entry, drawn without replacement from `key` alone."""
        return self.at_step(key, 0)


def minibatches(
    data: PyTree[ArrayLike], batch_size: int | Mapping[str, int]
) -> Minibatches:
    r"""Minibatches of a data set, reshuffled every epoch inside the compiled loop.

    Give it to `pinnlib.fit` or `pinnlib.run` as the batch, with `resample_every=1`:
    the batch of every step is gathered on the device from the arrays held here, so
    a whole epoch (and a whole run) runs without a host round-trip. Each entry has
    its own epoch: a term with 100 pairs in batches of 10 starts a new epoch every
    10 steps, while one with 1000 inputs in batches of 10 does so every 100 steps.
    See `Minibatches` for the order.

    **Arguments:**

    - `data`: `{term_name: entry}`, one entry per loss term that trains on data:
      an array `(n, ...)`, or a pytree of them (e.g. `(inputs, targets)`, or
      `((sensors, queries), targets)`), all with the same number `n` of samples.
      Numpy arrays are moved to the default device.
    - `batch_size`: samples per step, one int for every entry or `{name: int}`.
      It must divide the entry's `n` (so every epoch visits every sample once).

    **Returns:** a `Minibatches` sampler.

    **Raises:** `ValueError` for an empty or non-dict `data`, arrays with different
    numbers of samples, or a batch size that is not a positive divisor of `n`.

    !!! example

        ```python
        inputs = jnp.zeros((1000, 1, 256)); targets = jnp.zeros((1000, 1, 256))
        batches = pl.data.minibatches({"data": (inputs, targets)}, 20)
        result = pl.fit(training, state, batches, 5000, resample_every=1)
        ```
    """
    where = "pinnlib.data.minibatches"
    if not isinstance(data, Mapping) or not data:
        raise bad_argument(
            f"{where}(data=...)",
            "a non-empty dict {term_name: (inputs, targets)}",
            type(data).__name__,
            "Key the data by the name of the loss term that trains on it.",
        )
    data = {name: jax.tree.map(jnp.asarray, entry) for name, entry in data.items()}
    sizes = {
        k: check_samples(f"{where}(data={{{k!r}: ...}})", v) for k, v in data.items()
    }
    if isinstance(batch_size, Mapping):
        if set(batch_size) != set(data):
            raise bad_argument(
                f"{where}(batch_size=...)",
                f"an int or a dict with the keys {sorted(data)}",
                sorted(batch_size),
                "Give one batch size per entry of `data`.",
            )
        batch_sizes = dict(batch_size)
    else:
        batch_sizes = dict.fromkeys(data, batch_size)
    for name, size in batch_sizes.items():
        size = check_positive_int(f"{where}(batch_size=...) for {name!r}", size)
        if sizes[name] % size:
            divisors = [d for d in range(1, sizes[name] + 1) if sizes[name] % d == 0]
            near = sorted(divisors, key=lambda d: abs(d - size))[:3]
            raise bad_argument(
                f"{where}(batch_size=...) for {name!r}",
                f"a divisor of its {sizes[name]} samples (so that every epoch visits "
                "every sample exactly once)",
                size,
                f"Use e.g. {sorted(near)}, or drop samples from the data set.",
            )
        batch_sizes[name] = size
    return Minibatches(data, batch_sizes, sizes)
