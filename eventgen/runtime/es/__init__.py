"""Event sourcing and CQRS: the event store, aggregate repositories, projectors, queries.

Generated `<context>_aggregates.py` and `<context>_projections.py` modules build these objects
from the frozen records of `eventgen.runtime.es.spec`; docs/event-sourcing.md has the design.
"""
