"""The one place where jinit words its error messages.

Every message follows one template: "`arg` must be <what is allowed>; got <what
was given>." plus, for a misspelt choice, "Did you mean '<closest>'?". Tests pin
the stable fragment "`arg` must be".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def _given(got: Any) -> str:
    if isinstance(got, type):
        return f"the type {got.__name__}"
    text = repr(got)
    if len(text) > 80:
        text = text[:77] + "..."
    return text


def _message(arg: str, allowed: str, got: Any, hint: str = "") -> str:
    return f"`{arg}` must be {allowed}; got {_given(got)}.{hint}"


def bad_value(arg: str, allowed: str, got: Any, hint: str = "") -> ValueError:
    """A ValueError for an argument of the right kind but a wrong value.

    ``hint`` follows the template's sentence (e.g. :func:`did_you_mean`'s).
    """
    return ValueError(_message(arg, allowed, got, f" {hint}" if hint else ""))


def bad_type(arg: str, allowed: str, got: Any) -> TypeError:
    """A TypeError for an argument of the wrong kind; names the type given."""
    shown = f"{got!r} of type {type(got).__name__}"
    if len(shown) > 100:
        shown = f"a value of type {type(got).__name__}"
    return TypeError(f"`{arg}` must be {allowed}; got {shown}.")


#: Names from other libraries that a close match would answer with the wrong
#: choice: Keras' "untruncated_normal" is one letter pair from "truncated_normal",
#: its opposite. Each maps to (the choice meant, why).
_SYNONYMS: dict[str, tuple[str, str]] = {
    "untruncated_normal": ("normal", "jinit's 'normal' is untruncated"),
    "gaussian": ("normal", "jinit's 'normal' is untruncated"),
}


def did_you_mean(got: str, allowed: Iterable[str]) -> str:
    """The "Did you mean 'x'?" sentence for ``got`` among ``allowed`` ("" if none)."""
    return _hint(got, tuple(allowed)).strip()


def _hint(got: str, allowed: tuple[str, ...]) -> str:
    """The "Did you mean" hint: a known synonym, a case-insensitive match, else
    the closest spelling (difflib), compared in lower case."""
    synonym = _SYNONYMS.get(got.lower())
    if synonym is not None and synonym[0] in allowed:
        return f" Did you mean {synonym[0]!r}? ({synonym[1]}.)"
    lower = {a.lower(): a for a in reversed(allowed)}
    if got.lower() in lower:
        return f" Did you mean {lower[got.lower()]!r}?"
    close = difflib.get_close_matches(got.lower(), list(lower), n=1)
    return f" Did you mean {lower[close[0]]!r}?" if close else ""


def bad_choice(arg: str, got: Any, allowed: Iterable[str]) -> ValueError:
    """A ValueError for a string that is not one of the allowed choices."""
    allowed = tuple(allowed)
    listed = "one of " + ", ".join(repr(a) for a in allowed)
    hint = _hint(got, allowed) if isinstance(got, str) else ""
    return ValueError(_message(arg, listed, got, hint))
