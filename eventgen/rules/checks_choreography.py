"""Checks that a choreography can be generated as running code.

- E0836: a reaction's service has no consumer that handles the reaction's `on` message with
  stream processing. The generated `Reaction` registers its handler on that consumer's app
  (eventgen.emit.services.reactions), so without one there is nothing to run it; the hint shows
  the YAML of the consumer to add to the service's spec.

`reaction_consumer` is the one lookup the emitter and the check share.
"""

from __future__ import annotations

from eventgen.diagnostics import Diagnostic, error
from eventgen.ir import naming
from eventgen.ir.model import Choreography, ChoreographyReaction, Consumer, Project
from eventgen.rules.registry import Rule, declare


def reaction_consumer(project: Project, reaction: ChoreographyReaction) -> Consumer | None:
    """The reacting service's consumer that runs `reaction`: the first (by name) that handles
    its `on` message with stream processing; None when there is none."""
    by_name = {c.name: c for c in project.contexts}
    ctx = by_name.get(reaction.service)
    if ctx is None:
        return None
    found = [c for c in ctx.consumers if reaction.on in c.handles and c.processing == "stream"]
    return min(found, key=lambda c: c.name) if found else None


def reaction_attr(reaction: ChoreographyReaction) -> str:
    """The Reaction's name in `<service>_reactions.py`: `<do>_on_<on>` in snake case."""
    _, do = naming.split_qualified(reaction.do)
    _, on = naming.split_qualified(reaction.on)
    return f"{naming.snake(do)}_on_{naming.snake(on)}"


def check_choreography_runtime(project: Project) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    contexts = {c.name for c in project.contexts}
    for ch in project.all_choreographies():
        for reaction in ch.reactions:
            if reaction.service not in contexts or reaction.on not in project.messages_by_name:
                continue  # E0304 / an unresolved name: already reported
            if reaction_consumer(project, reaction) is not None:
                continue
            found.append(
                error(
                    "E0836",
                    reaction.loc,
                    f"reaction of {ch.name} on {reaction.on}: service `{reaction.service}` has "
                    f"no consumer that handles {reaction.on} (stream processing), so nothing "
                    "runs it",
                    _hint(project, ch, reaction),
                )
            )
    return found


def _relative(name: str, home: str) -> str:
    context, local = naming.split_qualified(name)
    return local if context == home else name


def _hint(project: Project, ch: Choreography, reaction: ChoreographyReaction) -> str:
    service = reaction.service
    message = project.messages_by_name[reaction.on]
    name = reaction_attr(reaction).replace("_", "-")
    lines = [
        f"add this consumer to the `{service}` spec:",
        "consumers:",
        f"  {name}:",
        f"    doc: The {service} reaction to {message.name} in the {ch.name} choreography.",
        f"    group: {service}.{name}",
    ]
    if message.topic:
        lines.append(f"    subscribe: [{_relative(message.topic, service)}]")
    lines += [
        f"    handles: [{_relative(reaction.on, service)}]",
        "    delivery: at-least-once",
        "    processing: stream",
        "    idempotency: {store: sqlite, retention: 7d}",
    ]
    return lines[0] + "".join(f"\n    {line}" for line in lines[1:])


RULES: tuple[Rule, ...] = (
    declare(
        "E0836",
        "error",
        "rule",
        "a choreography reaction's service has no consumer handling its `on` message",
        check_choreography_runtime,
    ),
)
