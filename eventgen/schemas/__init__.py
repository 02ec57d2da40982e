"""IR -> schema dicts (Avro, JSON Schema, key schemas): one pure package for every stage.

eventgen.emit turns these dicts into files; eventgen.evolution turns them into registry
subjects and history versions. Nothing here knows about paths or output.
"""

from eventgen.schemas.builder import Schemas

__all__ = ["Schemas"]
