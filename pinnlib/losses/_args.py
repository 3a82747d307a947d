"""Which loss `args` keys each term accepts, and the checks that none is lost.

A term says which keys of the loss `args` it reads through an ``accepts``
attribute: a ``frozenset`` of key names, or ``None`` for "unknown" (it may read
any key; a plain function term, a pde taking ``**kwargs``). `residual(pde)` fills
it from the pde's signature; condition terms accept no key.
"""

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping

from .._custom_types import Args
from .._errors import bad_argument


def pde_name(pde) -> str:
    """``module.qualname`` of a residual builder, for messages."""
    name = getattr(pde, "__qualname__", None) or getattr(pde, "__name__", None)
    if name is None:
        return repr(pde)
    module = getattr(pde, "__module__", None)
    return f"{module}.{name}" if module and module != "__main__" else name


def _coefficient_parameters(pde, fields: int = 1) -> list[inspect.Parameter] | None:
    """The parameters after the `fields` leading ones (the field `u`, or an
    operator's output and input), or ``None`` if any keyword may come."""
    try:
        params = list(inspect.signature(pde).parameters.values())
    except (TypeError, ValueError):  # no readable signature: treat as unknown
        return None
    kind = inspect.Parameter
    if any(p.kind is kind.VAR_KEYWORD for p in params):
        return None
    positional = (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)
    for _ in range(fields):  # the field `u` (and input `a`), passed positionally
        if params and params[0].kind in positional:
            params = params[1:]
    keyword = (kind.KEYWORD_ONLY, kind.POSITIONAL_OR_KEYWORD)
    return [p for p in params if p.kind in keyword]


def accepted_keys(pde: Callable, fields: int = 1) -> frozenset[str] | None:
    """The coefficient names `pde(u, **coefficients)` takes; ``None`` for ``**kw``."""
    params = _coefficient_parameters(pde, fields)
    return None if params is None else frozenset(p.name for p in params)


def as_accepts(where: str, accepts) -> frozenset[str] | None:
    """Validate an ``accepts`` declaration: ``None`` or an iterable of key names."""
    if accepts is None:
        return None
    if isinstance(accepts, str) or not isinstance(accepts, Iterable):
        raise bad_argument(
            where,
            "None (any key) or a collection of `args` key names",
            accepts,
            'Pass e.g. accepts=("nu",), or accepts=() for a term that reads no args.',
        )
    return frozenset(accepts)


def coefficients(pde: Callable, args: Args, fields: int = 1) -> dict:
    """The entries of `args` that `pde` takes, raising if a required one is missing."""
    params = _coefficient_parameters(pde, fields)
    if params is not None and not params:
        return {}  # takes no coefficient: args (of any kind) are for other terms
    if args is None:
        given = {}
    elif isinstance(args, Mapping):
        given = dict(args)
    else:
        raise bad_argument(
            f"{pde_name(pde)}: loss args",
            "a dict of coefficients {name: value}",
            type(args).__name__,
            "Pass the coefficients by name, e.g. args={'nu': 0.01}.",
        )
    if params is None:
        return given
    required = [p.name for p in params if p.default is p.empty]
    missing = [name for name in required if name not in given]
    if missing:
        raise TypeError(
            f"{pde_name(pde)}: the required coefficient(s) {missing} are missing from "
            f"the loss `args`, which has keys {sorted(given, key=str)}. Pass them in "
            f"`args`, e.g. args={{{', '.join(f'{k!r}: ...' for k in required)}}} "
            "(pl.fit(..., args=...) or loss(model, batch, weights, args))."
        )
    return {k: v for k, v in given.items() if k in {p.name for p in params}}


def term_accepts(term) -> frozenset[str] | None:
    """The `args` keys a loss term declares it reads (``None``: unknown, any key)."""
    accepts = getattr(term, "accepts", None)
    return None if accepts is None else frozenset(accepts)


def _describe(keys: frozenset[str]) -> str:
    return str(sorted(keys, key=str)) if keys else "no key"


def check_args_keys(where: str, terms: Mapping[str, object], args: Args) -> None:
    """Raise if a key of the `args` dict is accepted by no term (when all are known)."""
    if not isinstance(args, Mapping) or not args:
        return
    accepts: dict[str, frozenset[str]] = {}
    for name, term in terms.items():
        keys = term_accepts(term)
        if keys is None:
            return  # this term may read any key
        accepts[name] = keys
    known = frozenset().union(*accepts.values())
    unknown = sorted((k for k in args if k not in known), key=str)
    if not unknown:
        return
    table = "; ".join(f"{name}: {_describe(keys)}" for name, keys in accepts.items())
    close = {
        k: difflib.get_close_matches(str(k), sorted(map(str, known)), n=1)
        for k in unknown
    }
    hints = "".join(f" ({k!r}: did you mean {m[0]!r}?)" for k, m in close.items() if m)
    raise ValueError(
        f"{where}(args=...): no loss term accepts the key(s) {unknown} (args has "
        f"{sorted(args, key=str)}); the terms accept — {table}. A key no term takes "
        f"would be ignored and the default used.{hints} Rename it to the "
        "coefficient's name in the pde's signature, or remove it. For a key your own "
        "term reads, build it with pl.losses.least_squares(misfit, accepts=('key',)) "
        "or pass a plain function term (whose keys are not checked)."
    )
