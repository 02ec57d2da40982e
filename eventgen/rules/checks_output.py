"""Names that would break the generated output: reserved names, shadowed modules, paths.

The build writes one file per claim of eventgen.emit.layout.claims; these checks refuse specs
whose claims meet (two items, one path: the later file silently replaced the earlier), whose
names land on a generated module or folder, or whose file names are too long to create. They
run at validate time, so `validate` and `build` agree.
"""

from __future__ import annotations

import ntpath
import posixpath
from collections.abc import Iterator

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.emit import layout
from eventgen.emit.layout import Claim
from eventgen.ir import naming
from eventgen.ir.model import Project
from eventgen.ir.resolve.messages import MAX_VERSION
from eventgen.rules.registry import Rule, declare


def _package_loc(project: Project) -> Loc:
    locs = dict(project.project_locs)
    return locs.get("package", Loc(layout.project_file(project)))


def check_reserved(project: Project) -> Iterator[Diagnostic]:
    """The package, context and environment names the output layout cannot take."""
    package = project.package
    usable = not naming.is_python_reserved(package)  # else E0408 says it is no module name
    if usable and (package in naming.SHADOWED_PACKAGES or package in naming.OUTPUT_FOLDERS):
        role = (
            "a top-level output folder"
            if package in naming.OUTPUT_FOLDERS
            else "a module the generated code imports"
            if package in naming.GENERATED_IMPORTS
            else "a module the Schema Registry client imports"
            if package in naming.REGISTRY_CLIENT_IMPORTS
            else "a standard-library module"
        )
        yield error(
            "E0410",
            _package_loc(project),
            f"package `{package}` is the name of {role}; the generated package, imported from "
            "the output directory, would shadow it",
            f"name the package after the platform, e.g. `{_suggest(project)}`",
        )
    for ctx in project.contexts:
        taken = naming.RESERVED_CONTEXTS.get(naming.py_module(ctx.name))
        if taken is None:
            taken = naming.RESERVED_CONTEXTS.get(ctx.name)
        if taken is not None:
            yield error(
                "E0409",
                ctx.loc,
                f"context name `{ctx.name}` is reserved: the generated output uses it for {taken}",
                f"rename the context, e.g. `{ctx.name}-service` or a name from its domain",
            )
    for env, loc in project.environment_locs:
        if env == naming.DEFAULT_ENVIRONMENT:
            yield error(
                "E0413",
                loc,
                f"environment name `{env}` is reserved: it names the build without --env "
                f"(topics/{env}.json)",
                "rename the environment, e.g. `dev`",
            )
        elif not naming.ENVIRONMENT_NAME.fullmatch(env):
            yield error(
                "E0413",
                loc,
                f"environment name `{env}` cannot be a file name (it names topics/<env>.json)",
                "use letters, digits, `_`, `.` and `-`, starting with a letter or digit",
            )


def _suggest(project: Project) -> str:
    base = "".join(c if c.isalnum() else "_" for c in project.name.lower()).strip("_")
    return f"{base or 'platform'}_events"


def _refused(project: Project) -> tuple[set[str], set[str]]:
    """Contexts and environments check_reserved refused: their claims are not said twice."""
    contexts = {
        c.name
        for c in project.contexts
        if c.name in naming.RESERVED_CONTEXTS
        or naming.py_module(c.name) in naming.RESERVED_CONTEXTS
    }
    envs = {
        f"env:{env}"
        for env, _ in project.environment_locs
        if env == naming.DEFAULT_ENVIRONMENT or not naming.ENVIRONMENT_NAME.fullmatch(env)
    }
    return contexts, envs


def check_paths(project: Project) -> Iterator[Diagnostic]:
    """Two claims of one path (also when they differ only in letter case), and lengths."""
    if project.package in naming.OUTPUT_FOLDERS:
        return  # E0410: every package file would sit among the schema files
    contexts, envs = _refused(project)
    claims = layout.claims(project)
    if contexts or envs:
        claims = [
            c for c in claims if c.owner not in envs and c.owner.partition(".")[0] not in contexts
        ]
    yield from _collisions(claims)
    reported: set[str] = set()
    yield from _message_names(project, reported)
    yield from _lengths(claims, reported)


def _collisions(claims: list[Claim]) -> Iterator[Diagnostic]:
    by_path: dict[str, list[Claim]] = {}
    for claim in claims:
        by_path.setdefault(claim.path.casefold(), []).append(claim)
    pairs: set[tuple[str, str]] = set()
    for group in by_path.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda c: (c.loc, c.path))
        first = group[0]
        for claim in group[1:]:
            # Same owner: one item's own files (E0403 reports two items of one name).
            if claim.owner == first.owner or (first.owner, claim.owner) in pairs:
                continue
            pairs.add((first.owner, claim.owner))
            case = (
                f"; `{first.path}` and `{claim.path}` differ only in letter case, which macOS "
                "and Windows checkouts do not tell apart"
                if claim.path != first.path
                else ""
            )
            yield error(
                "E0411",
                claim.loc,
                f"{claim.what} would be written to `{claim.path}`, which {first.what} "
                f"already claims{case}",
                f"the other is at {first.loc}; rename one of them (the second file would "
                "silently replace the first)",
            )


def _message_names(project: Project, reported: set[str]) -> Iterator[Diagnostic]:
    """Message names leave room for the longest version suffix, so a later version's schema
    file fits too (renaming a message later is a breaking change)."""
    limit = naming.FILE_NAME_MAX - layout.VERSION_SUFFIX_MAX
    for message in project.all_messages():
        size = len(message.name.encode())
        if size > limit:
            reported.add(message.qualified)
            yield error(
                "E0412",
                message.loc,
                f"{message.kind} name `{_short(message.name)}` is {size} bytes long; message "
                f"names are bounded at {limit} so that the schema file of every version "
                f"(`<Name>{layout.version_suffix(MAX_VERSION)}.avsc`) fits the "
                f"{naming.FILE_NAME_MAX} bytes file systems allow per file name",
                f"shorten the name by at least {size - limit} character(s)",
            )


def _short(text: str, limit: int = 60) -> str:
    """`text` cut for a message; a name cut inside backticks keeps its closing one."""
    if len(text) <= limit:
        return text
    cut = f"{text[: limit - 1]}…"
    return cut + "`" if cut.count("`") % 2 else cut


def _lengths(claims: list[Claim], reported: set[str]) -> Iterator[Diagnostic]:
    # Only the long paths are looked at closely (a path of N characters has at least N bytes).
    longest = min(naming.FILE_NAME_MAX, naming.RELATIVE_PATH_MAX)
    suspects = [c for c in claims if len(c.path) > longest]
    for claim in sorted(suspects, key=lambda c: (-len(c.path.encode()), c.path)):
        if claim.owner in reported:
            continue
        name = claim.path.rstrip("/").rsplit("/", 1)[-1]
        size = len(name.encode())
        total = len(claim.path.encode())
        if size > naming.FILE_NAME_MAX:
            reported.add(claim.owner)
            yield error(
                "E0412",
                claim.loc,
                f"{_short(claim.what)} is named too long for a file: `{_short(name)}` would be "
                f"{size} bytes, and file systems allow {naming.FILE_NAME_MAX} per file name",
                f"shorten the name by at least {size - naming.FILE_NAME_MAX} character(s)",
            )
        elif total > naming.RELATIVE_PATH_MAX:
            reported.add(claim.owner)
            yield error(
                "E0412",
                claim.loc,
                f"{_short(claim.what)} would be written to a path of {total} bytes, above the "
                f"{naming.RELATIVE_PATH_MAX} eventgen allows below the output directory",
                f"shorten the context or item name by at least "
                f"{total - naming.RELATIVE_PATH_MAX} character(s)",
            )


def check_output_dir(project: Project) -> Iterator[Diagnostic]:
    """A committed `output:` stays inside the project directory (the specs folder's parent).

    The build writes and deletes under it; a pull request that sets `output: /etc` or
    `../../somewhere` would otherwise point CI's writes anywhere on disk. A directory chosen on
    the command line (`-o`) is the user's own choice and is not checked.
    """
    output = project.output
    loc = dict(project.project_locs).get("output", Loc(layout.project_file(project)))
    hint = "use a folder beside the specs folder, e.g. `../generated`; `-o` can point elsewhere"
    if posixpath.isabs(output) or ntpath.isabs(output) or "\\" in output or ":" in output:
        yield error("E0414", loc, f"output `{output}` is not a relative path", hint)
        return
    # Relative to the project directory, with the specs folder as `specs`.
    inside = posixpath.normpath(posixpath.join("specs", output))
    if inside == ".." or inside.startswith("../"):
        where = "outside the project directory"
    elif inside in (".", "specs"):
        where = "the project directory itself" if inside == "." else "the specs folder itself"
    else:
        return
    yield error("E0414", loc, f"output `{output}` is {where}", hint)


# The codes these checks report, composed into the ruleset by eventgen.rules.catalog.
RULES: tuple[Rule, ...] = (
    declare(
        "E0409",
        "error",
        "rule",
        "context name is reserved for a generated module or folder (`topics`, `keys`)",
        check_reserved,
    ),
    declare(
        "E0410",
        "error",
        "rule",
        "package name shadows a module the generated code imports, the standard library, "
        "or an output folder",
        check_reserved,
    ),
    declare(
        "E0413",
        "error",
        "rule",
        "environment name is reserved (`default`) or cannot be a file name",
        check_reserved,
    ),
    declare(
        "E0414",
        "error",
        "rule",
        "`output:` leaves the project directory, or is the project or specs folder itself",
        check_output_dir,
    ),
    declare(
        "E0411",
        "error",
        "rule",
        "two generated files would have one path (also when they differ only in letter case)",
        check_paths,
    ),
    declare(
        "E0412",
        "error",
        "rule",
        "a name makes a generated file name longer than 255 bytes or its path longer than 512",
        check_paths,
    ),
)
