"""A name -> object registry, as timm's model registry: register, list, get with a clear error."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from aebnas.exceptions import AebnasError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to registered objects of one kind (e.g. backbones, datasets)."""

    def __init__(self, kind: str, explain: Callable[[str], str] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._explain = explain  # name -> a note on why an unknown name is not registered ("" for none)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering its target under ``name``."""

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise AebnasError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            note = self._explain(name) if self._explain is not None and isinstance(name, str) else ""
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6) if isinstance(name, str) else []
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{note}{hint}; allowed: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)
