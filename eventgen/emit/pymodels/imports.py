"""Import blocks of generated modules: only what is used, isort order, collisions aliased."""

from __future__ import annotations

from collections.abc import Iterable

STDLIB = frozenset({"collections", "datetime", "decimal", "enum", "typing", "uuid"})


class Imports:
    """Collects `from module import name` uses; `use()` returns the name to write in code."""

    def __init__(self, package: str, defined: Iterable[str]) -> None:
        self.package = package
        self.defined = frozenset(defined)  # names the module itself defines (fixed)
        self.used: dict[tuple[str, str], str] = {}
        # Defined names plus every local name handed out, kept up to date by use(): rebuilding
        # it per call made a module with one import per message (topics) quadratic.
        self._taken = set(self.defined)

    def use(self, module: str, name: str, prefer: str | None = None) -> str:
        """Import `name` from `module`; aliased when it would clash with another name."""
        key = (module, name)
        if key in self.used:
            return self.used[key]
        taken = self._taken
        local = name
        if local in taken:
            local = prefer if prefer and prefer not in taken else "_" + name
        while local in taken:
            local = "_" + local
        self.used[key] = local
        taken.add(local)
        return local

    def lines(self) -> list[str]:
        """Import statements in sections (stdlib, third party, the package), sorted like isort."""
        sections: dict[int, dict[str, list[tuple[str, str]]]] = {0: {}, 1: {}, 2: {}}
        for (module, name), local in self.used.items():
            top = module.split(".")[0]
            section = 0 if top in STDLIB else 2 if top == self.package else 1
            sections[section].setdefault(module, []).append((name, local))
        out: list[str] = []
        for section in (0, 1, 2):
            block: list[str] = []
            for module in sorted(sections[section]):
                names = sorted(sections[section][module], key=_isort_key)
                plain = [n for n, local in names if n == local]
                # One statement for the plain names and one per alias, ordered by their first
                # member as isort (ruff's I001) orders statements of the same module.
                statements = [
                    ((n, a), f"from {module} import {n} as {a}") for n, a in names if n != a
                ]
                if plain:
                    statements.append(
                        ((plain[0], plain[0]), f"from {module} import {', '.join(plain)}")
                    )
                block.extend(text for _, text in sorted(statements, key=lambda s: _isort_key(s[0])))
            if block:
                out.extend([*block, ""])
        return out[:-1]


def _isort_key(item: tuple[str, str]) -> tuple[int, str]:
    name = item[0]
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower() + "\0" + name
