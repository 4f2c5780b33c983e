"""Lazy registries for what users extend: datasets, judges, attacks, generation backends.

An entry maps a name to "module:attribute", imported only when the entry is used, so listing
what exists never imports torch. Unknown names get a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable

from erpo.errors import ErpoError


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, str | Callable[..., Any]] = {}

    def add(self, name: str, target: str | Callable[..., Any]) -> None:
        """Register `name` → a callable or a lazy "package.module:attribute" string."""
        self._entries[name] = target

    def register(self, name: str) -> Callable:
        """Decorator form of `add` for user code."""
        def deco(obj):
            self.add(name, obj)
            return obj
        return deco

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> Any:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ErpoError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}")
        target = self._entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        return target
