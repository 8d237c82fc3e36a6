"""Kubernetes' CEL quantity library (``quantity('1.5Gi').isLessThan(quantity('2Gi'))``), for the
rules of a Promise's API as kube-apiserver evaluates them.

A quantity is held as an exact decimal (``pod_validation.parse_quantity``), so comparisons and
sums are exact as the API server's are; ``==`` compares values (``quantity('1k') ==
quantity('1000')``), as Kubernetes' Quantity equality does.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from celpy import celtypes
from celpy.evaluation import CELEvalError

from kratix_py.core.pod_validation import parse_quantity

INVALID: Final = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
"""The API server's error for a string that is not a quantity (resource.ErrFormatWrong)."""
NOT_AN_INTEGER: Final = "cannot convert value to integer"
_INT64 = (-(2**63), 2**63 - 1)


class Quantity:
    """A quantity in a rule: compared and added by value."""

    __slots__ = ("value",)

    def __init__(self, value: Decimal) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"Quantity({self.value})"


def _parse(text: Any) -> Quantity | CELEvalError:
    value = parse_quantity(str(text)) if isinstance(text, str) else None
    if value is None:
        # Returned, not raised: celpy reports an exception from a function by its type alone
        # ("overflow", "no such overload"), and the rule's error must be the server's words.
        return CELEvalError(INVALID)
    return Quantity(value)


def _quantity(receiver: Any) -> Quantity:
    if not isinstance(receiver, Quantity):
        raise TypeError(f"no such overload: {type(receiver).__name__}")
    return receiver


def _amount(other: Any) -> Decimal:
    """``add``/``sub`` take a quantity or an int."""
    if isinstance(other, Quantity):
        return other.value
    if isinstance(other, int) and not isinstance(other, bool):
        return Decimal(int(other))
    raise TypeError(f"no such overload: {type(other).__name__}")


def _as_integer(receiver: Any) -> celtypes.IntType | CELEvalError:
    value = _quantity(receiver).value
    if value != value.to_integral_value() or not _INT64[0] <= value <= _INT64[1]:
        return CELEvalError(NOT_AN_INTEGER)
    return celtypes.IntType(int(value))


def _compare(receiver: Any, other: Any) -> int:
    left, right = _quantity(receiver).value, _quantity(other).value
    return (left > right) - (left < right)


def _is_integer(receiver: Any) -> celtypes.BoolType:
    value = _quantity(receiver).value
    return celtypes.BoolType(value == value.to_integral_value() and _INT64[0] <= value <= _INT64[1])


FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    "quantity": _parse,
    "isQuantity": lambda text: celtypes.BoolType(
        isinstance(text, str) and parse_quantity(str(text)) is not None
    ),
    "isInteger": _is_integer,
    "asInteger": _as_integer,
    "asApproximateFloat": lambda q: celtypes.DoubleType(float(_quantity(q).value)),
    "add": lambda q, other: Quantity(_quantity(q).value + _amount(other)),
    "sub": lambda q, other: Quantity(_quantity(q).value - _amount(other)),
    "isGreaterThan": lambda q, other: celtypes.BoolType(_compare(q, other) > 0),
    "isLessThan": lambda q, other: celtypes.BoolType(_compare(q, other) < 0),
    "compareTo": lambda q, other: celtypes.IntType(_compare(q, other)),
}
"""The library's functions and methods, by the name a rule calls them with. ``sign()`` is left
out: the API server built here does not compile it (``found no matching overload for 'sign'``)."""
