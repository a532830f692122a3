"""Registry[T]: the one way the harness names pluggable things (transforms, launchers,
blueprints, correspondences, importers, compare profile contributors, map findings).

An entry is registered once under a name, and a second entry under that name is refused.
Installed packages add entries through an entry point group of their own: each entry
point's name is the entry's name and what it loads is the entry. Looking up a name that
is not there says which names are, and which one was probably meant.

To add an entry, register it where it is defined:

    LAUNCHERS.register("localstripe", Launcher(LocalstripeOptions, start_localstripe))

or, from another package, declare it in that package's pyproject.toml:

    [project.entry-points."stripe_shadow.transforms"]
    add_source = "mypackage.transforms:add_source"
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from harness.errors import NotRegistered

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Named entries of one kind (see the module docstring). `kind` names it in messages
    ("transform", "launch kind"); `group` is the entry point group other packages use.
    An entry point is loaded when its name is first looked up, so a broken plugin fails
    the scenario that names it, not every lookup; once loaded it stays registered.
    Threads may look up at once: an entry point is loaded by one of them, and the others
    get what it loaded."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, T] = {}
        # Held while an entry point is found and loaded (re-entrant: loading a module may
        # register entries of its own here).
        self._loading = threading.RLock()

    def register(self, name: str, entry: T) -> T:
        """Add `entry` under `name`; a name already registered is refused."""
        if name in self._entries:
            raise ValueError(f"a {self.kind} named {name!r} is registered already")
        self._entries[name] = entry
        return entry

    def add(self, name: str) -> Callable[[T], T]:
        """The decorator form of `register`: `@TRANSFORMS.add("set_header")`."""

        def decorate(entry: T) -> T:
            return self.register(name, entry)

        return decorate

    def _plugins(self) -> dict[str, EntryPoint]:
        """The entry points of the group not registered yet, read again each time (a few
        milliseconds, and only for a name not registered): what is installed can change
        while a process runs."""
        if self.group is None:
            return {}
        found = entry_points(group=self.group)
        return {p.name: p for p in found if p.name not in self._entries}

    def __getitem__(self, name: str) -> T:
        entry = self._entries.get(name)
        if entry is not None:
            return entry
        with self._loading:
            return self._load(name)

    def _load(self, name: str) -> T:
        """`name`'s entry, loaded from its entry point unless another thread has."""
        entry = self._entries.get(name)
        if entry is not None:
            return entry
        point = self._plugins().get(name)
        if point is None:
            raise KeyError(name)
        try:
            loaded = point.load()
        except Exception as exc:  # a plugin's module may fail in any way on import
            raise NotRegistered(
                f"{self.kind} {name!r}: entry point {name!r} ({point.value}) cannot be "
                f"loaded ({type(exc).__name__}: {exc})"
            ) from None
        return self.register(name, loaded)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._plugins()

    def __iter__(self) -> Iterator[str]:
        return iter([*self._entries, *(n for n in self._plugins() if n not in self._entries)])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def named(self, name: str) -> T:
        """The entry called `name`, or NotRegistered: `unknown transform 'set_headr' (did
        you mean set_header?); known: …`."""
        if name in self:
            return self[name]
        raise NotRegistered(self.unknown(name))

    def unknown(self, name: str) -> str:
        """The sentence that says `name` is not registered, and what is."""
        close = difflib.get_close_matches(name, list(self), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown {self.kind} {name!r}{hint}; known: {', '.join(sorted(self))}"
