"""Python package emitter: frozen pydantic v2 models, topic bindings, Avro schema modules."""

from eventgen.emit.pymodels.render import emit

__all__ = ["emit"]
