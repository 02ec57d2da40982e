"""Plain containers that remember where each key and value came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventgen.diagnostics import Loc


class PMap(dict[str, Any]):
    """A mapping loaded from YAML, with the position of itself, its keys and its values."""

    # No per-node __dict__: a 10,000-event platform loads about 100,000 of these, and the
    # memory the load peaks at stays mapped for the rest of the build (docs/performance.md).
    __slots__ = ("key_locs", "loc", "value_locs")

    def __init__(self, loc: Loc) -> None:
        super().__init__()
        self.loc = loc
        self.key_locs: dict[str, Loc] = {}
        self.value_locs: dict[str, Loc] = {}

    def put(self, key: str, value: Any, key_loc: Loc, value_loc: Loc) -> None:
        self[key] = value
        self.key_locs[key] = key_loc
        self.value_locs[key] = value_loc

    def key_loc(self, key: str) -> Loc:
        return self.key_locs.get(key, self.loc)

    def copy_shallow(self) -> PMap:
        copy = PMap(self.loc)
        for key, value in self.items():
            copy.put(key, value, self.key_loc(key), self.value_loc(key))
        return copy

    @staticmethod
    def single(key: str, value: Any, source: PMap) -> PMap:
        """A one-key mapping carrying `source`'s positions for that key."""
        result = PMap(source.loc)
        result.put(key, value, source.key_loc(key), source.value_loc(key))
        return result

    def value_loc(self, key: str) -> Loc:
        return self.value_locs.get(key, self.loc)


class PList(list[Any]):
    """A sequence loaded from YAML, with the position of itself and of each item."""

    __slots__ = ("item_locs", "loc")

    def __init__(self, loc: Loc) -> None:
        super().__init__()
        self.loc = loc
        self.item_locs: list[Loc] = []

    def push(self, value: Any, loc: Loc) -> None:
        self.append(value)
        self.item_locs.append(loc)

    def item_loc(self, index: int) -> Loc:
        if 0 <= index < len(self.item_locs):
            return self.item_locs[index]
        return self.loc


def loc_at(root: Any, path: Sequence[str | int], *, key: bool = False) -> Loc | None:
    """Position of the value (or, with key=True, of the key) at `path` below `root`."""
    node = root
    found: Loc | None = getattr(root, "loc", None)
    for i, step in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, PMap) and isinstance(step, str) and step in node:
            found = node.key_loc(step) if (last and key) else node.value_loc(step)
            node = node[step]
        elif isinstance(node, PList) and isinstance(step, int) and 0 <= step < len(node):
            found = node.item_loc(step)
            node = node[step]
        else:
            break
    return found


def as_map(value: Any, loc: Loc) -> PMap:
    """`value` when it is a mapping, else an empty one at `loc` (the structure check reported it)."""
    return value if isinstance(value, PMap) else PMap(loc)


def as_list(value: Any, loc: Loc) -> PList:
    """`value` when it is a list, else an empty one at `loc` (the structure check reported it)."""
    return value if isinstance(value, PList) else PList(loc)
