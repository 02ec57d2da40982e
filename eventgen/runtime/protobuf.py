"""Protobuf values of generated models: message classes from the build's descriptors, and
converters model <-> proto message compiled once per message class.

`eventgen build` with `serialization: protobuf` writes `<package>/_proto/<ctx>.py` per
context (eventgen/emit/protobuf/python.py): the serialized FileDescriptorProto
(`DESCRIPTOR`), the modules of the contexts it imports (`DEPENDENCIES`), the `.proto` text
(`PROTO`, what the registry codec registers), and the proto message name and Confluent
message index of every message type (`MESSAGES`, `INDEXES`). The model of a context finds
its module from `Message.SCHEMAS` (`<package>._avro.<ctx>` -> `<package>._proto.<ctx>`).

The converters model <-> proto message are compiled on a class's first use
(eventgen.runtime.protobuf_compile); a proto value that breaks a rule of the model is
`invalid_payload`, bytes that do not parse are `corrupt_payload`.

google.protobuf is imported here only: serde imports this module only for protobuf routes.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message import Message as ProtoMessage
from google.protobuf.timestamp_pb2 import Timestamp as ProtoTimestamp

from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Message
from eventgen.runtime.protobuf_compile import Compiler

M = TypeVar("M", bound=Message)
TIMESTAMP = "google.protobuf.Timestamp"
TIMESTAMP_FILE = ProtoTimestamp.DESCRIPTOR.file.serialized_pb
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- descriptors and message classes ---------------------------------------------------------

# One pool per generated package: two builds may both have an `orders.proto` (file names
# are the context's), and a pool holds one file per name. Not the default pool either, so
# protoc-generated classes of the same files can live beside these in one process.
_pools: dict[str, descriptor_pool.DescriptorPool] = {}  # generated package -> its pool
_loaded: set[str] = set()  # generated `_proto` module names added to their pool
_pool_lock = threading.RLock()


def proto_module_name(cls: type[Message]) -> str:
    """`<package>._proto.<ctx>` of a message class (from its Avro module's name)."""
    package, _, ctx = cls.SCHEMAS.rpartition(".")
    return f"{package.rpartition('.')[0]}._proto.{ctx}"


def pool_of(module_name: str) -> descriptor_pool.DescriptorPool:
    """The pool of the generated package a `<package>._proto.<ctx>` module belongs to."""
    package = module_name.rpartition("._proto.")[0]
    with _pool_lock:
        pool = _pools.get(package)
        if pool is None:
            pool = _pools[package] = descriptor_pool.DescriptorPool()
            pool.Add(descriptor_pb2.FileDescriptorProto.FromString(TIMESTAMP_FILE))
    return pool


def load_module(name: str) -> Any:
    """Import a generated `_proto` module and add its file (imports first) to its pool."""
    module = importlib.import_module(name)
    with _pool_lock:
        if name in _loaded:
            return module
        for dependency in module.DEPENDENCIES:
            load_module(dependency)
        pool_of(name).Add(descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR))
        _loaded.add(name)
    return module


def message_class(pool: descriptor_pool.DescriptorPool, full_name: str) -> type[ProtoMessage]:
    """The proto message class of a full name in `pool` (its file loaded already)."""
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


# -- per class: the proto class, its converters, the Confluent index --------------------------


def _timestamp_encoder(cls: type[ProtoMessage]) -> Callable[[datetime], ProtoMessage]:
    """datetime -> Timestamp of `cls`: the class of this module's pool (not timestamp_pb2's,
    whose instances a message of another pool refuses)."""

    def ts(value: datetime) -> ProtoMessage:
        delta = value - _EPOCH
        return cls(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)

    return ts


@dataclass(frozen=True)
class ProtoBinding:
    """What the codecs need of one message class under protobuf."""

    proto: type[ProtoMessage]
    full_name: str
    index: tuple[int, ...]  # Confluent message index path in its file
    module: Any  # the generated `_proto` module (PROTO text, FILE, DEPENDENCIES)
    to_proto: Callable[[Message], ProtoMessage]
    from_proto: Callable[[ProtoMessage], Message]


_bindings: dict[type[Message], ProtoBinding] = {}


def binding(cls: type[Message]) -> ProtoBinding:
    """The binding of a message class (built and compiled on first use)."""
    found = _bindings.get(cls)
    if found is None:
        with _pool_lock:
            found = _bindings.get(cls)
            if found is None:
                found = _bindings[cls] = _bind(cls)
    return found


def _bind(cls: type[Message]) -> ProtoBinding:
    module = load_module(proto_module_name(cls))
    name = module.MESSAGES.get(cls.TYPE)
    if name is None:
        raise DecodeError("unknown_type", "no protobuf message for this type", cls.TYPE)
    full_name = f"{module.PACKAGE}.{name}"
    pool = pool_of(module.__name__)
    desc = pool.FindMessageTypeByName(full_name)
    compiler = Compiler()
    compiler.names["_ts"] = _timestamp_encoder(message_class(pool, TIMESTAMP))
    root = compiler.record(cls, desc)
    compiler.run()
    scope = dict(compiler.names)
    exec(compile("\n".join(compiler.lines), f"<protobuf {cls.TYPE}>", "exec"), scope)  # noqa: S102
    return ProtoBinding(
        message_factory.GetMessageClass(desc),
        full_name,
        tuple(module.INDEXES[cls.TYPE]),
        module,
        scope[f"_enc{root}"],
        scope[f"_dec{root}"],
    )


def encode_protobuf(message: Message) -> bytes:
    """The payload as a bare protobuf message of its current version."""
    return binding(type(message)).to_proto(message).SerializeToString()


def decode_protobuf(cls: type[M], data: bytes) -> M:
    """A model from a bare protobuf payload of its current version; DecodeError on failure."""
    bound = binding(cls)
    try:
        proto = bound.proto.FromString(data)
    except ProtoDecodeError as exc:
        raise DecodeError("corrupt_payload", f"not a {bound.full_name}: {exc}", cls.TYPE) from exc
    try:
        return cast(M, bound.from_proto(proto))
    except (ValueError, OverflowError) as exc:  # pydantic's ValidationError is a ValueError
        raise DecodeError("invalid_payload", str(exc), cls.TYPE) from exc
