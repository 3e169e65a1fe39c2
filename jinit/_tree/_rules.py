"""Path rules: what a rule's value may be, how rules are compiled and matched.

A rule maps a path regex to an initializer ``(key, shape, dtype) -> Array`` or
to a :class:`jinit.Rule`, whose ``for_leaf(path, leaves)`` picks the
initializer per leaf. The first regex that fully matches a leaf's path wins.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

import jax

from .. import _errors, _signature
from .._base import Init
from .._types import Initializer, Rule

RuleValue: TypeAlias = Initializer | Rule
Rules: TypeAlias = Mapping[str, RuleValue] | Iterable[tuple[str, RuleValue]]
Compiled: TypeAlias = list[tuple[re.Pattern[str], Any]]


def is_rule(value: Any) -> bool:
    """Whether ``value`` picks its initializer per leaf (has ``for_leaf``)."""
    return callable(getattr(value, "for_leaf", None))


def is_builder(value: Any) -> bool:
    """A jinit builder function (``jinit.he_normal``) passed without calling it."""
    if not isinstance(value, types.FunctionType):
        return False
    if not getattr(value, "__module__", "").startswith("jinit"):
        return False
    params = list(inspect.signature(value).parameters)
    return not params or params[0] != "key"


def is_initializer(obj: Any) -> bool:
    """Whether ``obj`` is a jinit initializer or a builder of one.

    An :class:`jinit.Init` (``jinit.zeros``), or a function annotated to return
    one (``jinit.he_normal``). ``jinit.materialize`` and ``jinit.compute_fans``
    are neither.
    """
    if isinstance(obj, Init):
        return True
    if not callable(obj) or isinstance(obj, type):
        return False
    try:
        ret = typing.get_type_hints(obj).get("return")
    except Exception:  # unresolvable annotations: not one of jinit's builders
        return False
    return isinstance(ret, type) and issubclass(ret, Init)


def check_rule(arg: str, value: Any) -> None:
    """Checks that a rule's value is an initializer or a :class:`jinit.Rule`."""
    if is_builder(value):
        raise TypeError(
            f"`{arg}` must be an initializer; got the builder "
            f"{value.__name__}, which makes one: call it, e.g. {value.__name__}()."
        )
    if not (callable(value) or is_rule(value)):
        raise _errors.bad_type(
            arg,
            "an initializer (a callable (key, shape, dtype) -> Array) or a rule "
            "with for_leaf(path, leaves)",
            value,
        )


def compile_rules(rules: Any, arg: str = "rules") -> Compiled:
    """``[(regex, value)]`` of a mapping or sequence of pairs, each checked."""
    if isinstance(rules, Mapping):
        items = list(rules.items())
    elif isinstance(rules, str) or not isinstance(rules, Iterable):
        raise _errors.bad_type(arg, "a mapping from path regex to initializer", rules)
    else:
        items = list(rules)
        if not all(isinstance(i, tuple) and len(i) == 2 for i in items):
            raise _errors.bad_type(
                arg,
                "a mapping (or a sequence of pairs) from path regex to initializer",
                rules,
            )
    compiled = []
    for pattern, value in items:
        if not isinstance(pattern, str | re.Pattern):
            raise _errors.bad_type(arg, "keyed by regex strings", pattern)
        compiled.append(
            (compile_regex(arg, pattern, "keyed by valid regular expressions"), value)
        )
        check_rule(f"{arg}[{pattern!r}]", value)
    return compiled


def compile_regex(
    arg: str, pattern: Any, allowed: str = "a valid regular expression"
) -> re.Pattern[str]:
    """A compiled path regex, or a named error for a bad one (``re.error``'s why)."""
    if isinstance(pattern, re.Pattern):
        return pattern
    if not isinstance(pattern, str):
        raise _errors.bad_type(arg, "a regex string", pattern)
    try:
        return re.compile(pattern)
    except re.error as e:
        raise _errors.bad_value(arg, f"{allowed} ({e})", pattern) from None


def match_rule(rules: Compiled, path: str) -> tuple[str | None, Any]:
    """``(pattern, value)`` of the first rule that fully matches ``path``."""
    for regex, value in rules:
        if regex.fullmatch(path):
            return regex.pattern, value
    return None, None


def unmatched_error(paths: list[str]) -> ValueError:
    shown = ", ".join(repr(p) for p in paths[:50])
    if len(paths) > 50:
        shown += f", ... ({len(paths) - 50} more)"
    return ValueError(
        "`rules` must match every leaf's path with a full regex match (or pass "
        f"`default=`); got no rule for {len(paths)} leaves: {shown}."
    )


@dataclasses.dataclass(frozen=True)
class PerLeaf:
    """A :class:`jinit.Rule` made from a function ``choose(path, leaves) -> init``.

    ``jinit.materialize``, ``reinit`` and ``table`` call it for each leaf it
    matches (``leaves`` maps every path to its ``jax.ShapeDtypeStruct``); it is
    not an initializer itself, as it cannot know a leaf's neighbours from a
    shape alone.
    """

    name: str
    choose: Callable[[str, Mapping[str, jax.ShapeDtypeStruct]], Any]

    def for_leaf(self, path: str, leaves: Mapping[str, jax.ShapeDtypeStruct]) -> Any:
        return self.choose(path, leaves)

    def __repr__(self) -> str:
        return self.name


_ADAPTERS = "jinit.flax.abstract, jinit.equinox.abstract or jinit.haiku.abstract"


def _declared(path: str, leaves: Mapping[str, Any]) -> Any:
    return _signature.declared(path, leaves, _ADAPTERS)


def declared() -> PerLeaf:
    """A rule that draws each parameter with the initializer its module declared.

    ``{r".*": jinit.declared()}`` on the leaves of an adapter's ``abstract``
    (Flax, Equinox, Haiku) gives the model's own laws, drawn by jinit's path
    keys per layer with the module's call shape; other rules before it override
    some of them. A leaf whose declared initializer is not known is an error
    naming it.
    """
    return PerLeaf("declared", _declared)
