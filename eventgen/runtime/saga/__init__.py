"""The saga runtime: definitions a build writes (spec), instances and decisions (state), the
pure state machine (engine), its row codec (codec) and the errors users see (errors)."""

from eventgen.runtime.saga.codec import dump_instance, load_instance, schema_hash
from eventgen.runtime.saga.engine import SAGA_NAMESPACE, SagaMachine, request_id
from eventgen.runtime.saga.errors import OperatorRefused, SagaDataError, SagaError

__all__ = [
    "SAGA_NAMESPACE",
    "OperatorRefused",
    "SagaDataError",
    "SagaError",
    "SagaMachine",
    "dump_instance",
    "load_instance",
    "request_id",
    "schema_hash",
]
