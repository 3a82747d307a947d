"""Argument checks shared by the point sequences."""

from .._errors import check_positive_int


def check_nd(where: str, n, d) -> tuple[int, int]:
    return (
        check_positive_int(f"{where}(n=...)", n),
        check_positive_int(f"{where}(d=...)", d),
    )
