"""The variants by name: ``"sp"``, ``"mup"``, ... name default records.

The variant-only arguments of :func:`jinit.mup.parametrize` are the records'
fields (:func:`variant_of`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import _errors
from ._absolute import SpectralMuP, UMuP
from ._relative import SP, CompleteP, MuP, MuPABC, MuPTable3, SPEmbeddingLR
from ._variant import Variant

#: The variant of each name (the records' defaults).
BY_NAME: dict[str, type[Variant]] = {
    cls.name: cls
    for cls in (SP, MuP, MuPTable3, CompleteP, UMuP, SpectralMuP, SPEmbeddingLR, MuPABC)
}
VARIANTS: tuple[str, ...] = tuple(BY_NAME)


def variant_of(variant: Any, **fields: Any) -> Variant:
    """The record of ``variant`` (a name or a record), with the fields given.

    Raises:
      ValueError: an unknown name; a field (not None) the variant lacks,
        naming the variant that has it; a field given with a record.
    """
    given = {k: v for k, v in fields.items() if v is not None}
    if isinstance(variant, Variant):
        for arg, value in given.items():
            raise _errors.bad_value(
                arg, "None when `variant` is a record (set it on the record)", value
            )
        return variant
    if not isinstance(variant, str) or variant not in BY_NAME:
        raise _errors.bad_choice("variant", variant, VARIANTS)
    cls = BY_NAME[variant]
    own = {f.name for f in dataclasses.fields(cls)}
    for arg, value in given.items():
        if arg not in own:
            owner = next(
                n
                for n, c in BY_NAME.items()
                if arg in {f.name for f in dataclasses.fields(c)}
            )
            raise _errors.bad_value(arg, f"None unless variant={owner!r}", value)
    return cls(**given)
