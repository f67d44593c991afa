"""A name -> object registry, as timm's model registry: register, list, get with a clear error; names of a
prefix (``timm:NAME``) can be resolved on first use, for families too large to register up front."""

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
        self._prefixes: dict[str, tuple[Callable[[str], T], str]] = {}
        self._resolved: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering its target under ``name``."""

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise AebnasError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return decorator

    def register_prefix(self, prefix: str, resolve: Callable[[str], T], description: str) -> None:
        """Unregistered names that start with ``prefix`` are resolved on first use by ``resolve(name)``, which
        raises an AebnasError (UnknownNameError for an unknown name) when it cannot; the result is kept.
        ``description`` says what such names are (in listings and errors)."""
        self._prefixes[prefix] = (resolve, description)

    def get(self, name: str) -> T:
        if name in self._entries:
            return self._entries[name]
        if name in self._resolved:
            return self._resolved[name]
        prefix = next((p for p in self._prefixes if isinstance(name, str) and name.startswith(p)), None)
        if prefix is not None:
            self._resolved[name] = self._prefixes[prefix][0](name)
            return self._resolved[name]
        note = self._explain(name) if self._explain is not None and isinstance(name, str) else ""
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6) if isinstance(name, str) else []
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        families = "".join(f", or {p}NAME ({description})" for p, (_, description) in self._prefixes.items())
        raise UnknownNameError(f"unknown {self.kind} {name!r}{note}{hint}; allowed: {', '.join(self.names())}{families}")

    def prefixes(self) -> dict[str, str]:
        """Prefix -> description of the names resolved on first use."""
        return {p: description for p, (_, description) in self._prefixes.items()}

    def names(self) -> list[str]:
        """The registered names (not those of a prefix, resolved on first use)."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)
