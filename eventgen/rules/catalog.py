"""The ruleset: every diagnostic code, composed explicitly in one ordered tuple.

Codes the loader, the structure check and the resolver raise are listed here (they have no
check of their own); codes found over the resolved IR come from the check modules, each of
which exports the Rule records of the checks it defines. `eventgen rules`, docs/diagnostics.md
and the pipeline all read RULES; nothing is registered by importing a module.
"""

from __future__ import annotations

from eventgen.interop.asyncapi import codes as asyncapi_import
from eventgen.rules import (
    checks_aggregates,
    checks_choreography,
    checks_depth,
    checks_es,
    checks_flows,
    checks_names,
    checks_output,
    checks_protobuf,
    checks_runtime,
    checks_saga_runtime,
    checks_sagas,
    checks_topics,
    checks_types,
)
from eventgen.rules.registry import Rule, declare, validate_ruleset

# Reported while reading specs, checking their structure and resolving references.
_BEFORE_RULES: tuple[Rule, ...] = (
    # load: reading YAML
    declare("E0101", "error", "load", "spec file is not valid UTF-8"),
    declare("E0102", "error", "load", "malformed YAML (syntax, tabs, several documents)"),
    declare("E0103", "error", "load", "duplicate mapping key"),
    declare("E0104", "error", "load", "mapping key is not a plain string, or a bad merge key"),
    declare("E0105", "error", "load", "YAML alias expansion too large (alias bomb) or recursive"),
    declare("E0106", "error", "load", "custom YAML tag"),
    declare("E0107", "error", "load", "empty spec file"),
    declare("E0108", "error", "load", "spec file is a list or a scalar, not a mapping"),
    declare("E0109", "error", "load", "spec file too large"),
    declare("E0110", "error", "load", "YAML nested too deeply"),
    declare("E0111", "error", "structure", "unsupported `eventgen:` language version"),
    declare("E0112", "error", "load", "no project file eventgen.yaml"),
    declare("E0113", "error", "load", "integer literal longer than 100 digits"),
    declare("E0114", "error", "load", "unknown environment, or override of an unknown context"),
    declare(
        "E0120",
        "error",
        "load",
        "output file exists but was not made by eventgen (never overwritten)",
    ),
    declare(
        "E0121",
        "error",
        "load",
        "output path is a symbolic link (never written, read or deleted through)",
    ),
    # structure: the published JSON Schema
    declare("E0201", "error", "structure", "unknown key (with a did-you-mean hint)"),
    declare("E0202", "error", "structure", "missing required key"),
    declare("E0203", "error", "structure", "value of the wrong type"),
    declare("E0204", "error", "structure", "value not among the allowed choices"),
    declare(
        "E0205",
        "error",
        "structure",
        "value not in the expected form (durations, sizes, handlers)",
    ),
    declare("E0206", "error", "structure", "value out of range or malformed container"),
    # resolve: references
    declare("E0301", "error", "resolve", "unknown type"),
    declare("E0302", "error", "resolve", "unknown topic"),
    declare("E0303", "error", "resolve", "unknown message (event, command or query)"),
    declare("E0304", "error", "resolve", "unknown service (context) in a choreography"),
    declare("E0310", "error", "resolve", "type expression does not parse"),
    declare("E0311", "error", "resolve", "apply/row rule without an operation"),
    # names
    declare("E0401", "error", "resolve", "context name is not lower_snake or kebab-case"),
    declare("E0402", "error", "resolve", "item defined twice across files"),
    declare("E0403", "error", "resolve", "two items of a context would become the same class"),
    # types and values
    declare("W0501", "warning", "resolve", "decimal without precision/scale uses decimal(38,9)"),
    declare("E0502", "error", "resolve", "precision/scale on a non-decimal type"),
    declare("E0503", "error", "resolve", "decimal precision/scale out of range"),
    declare("E0504", "error", "resolve", "default does not fit its type or constraints"),
    declare("E0508", "error", "resolve", "constraint pattern is not a valid regular expression"),
    declare(
        "E0515",
        "error",
        "resolve",
        "constraint pattern can backtrack exponentially (a variable-length repeat repeated)",
    ),
    declare("E0510", "error", "resolve", "duration does not parse or overflows"),
    declare("E0511", "error", "resolve", "size does not parse or overflows"),
    # versions
    declare("E0701", "error", "resolve", "upcaster chain has a gap before the current version"),
    declare("E0702", "error", "resolve", "two upcasters from the same version"),
    declare("E0703", "error", "resolve", "upcaster from a version at or above the current one"),
    declare("E0704", "error", "resolve", "upcaster op names a field that does not exist"),
    declare("E0707", "error", "resolve", "message version above the supported maximum (1000)"),
)

# The order checks run in; output is sorted afterwards, so it only matters for speed.
RULES: tuple[Rule, ...] = validate_ruleset(
    (
        *_BEFORE_RULES,
        *checks_aggregates.RULES,
        *checks_depth.RULES,
        *checks_flows.RULES,
        *checks_names.RULES,
        *checks_output.RULES,
        *checks_runtime.RULES,
        *checks_es.RULES,
        *checks_sagas.RULES,
        *checks_topics.RULES,
        *checks_types.RULES,
        *checks_saga_runtime.RULES,
        *checks_choreography.RULES,
        *checks_protobuf.RULES,
        *asyncapi_import.RULES,
    )
)
