"""Component keys, channel and operation ids, and the `x-eventgen-*` extension names."""

from __future__ import annotations

import re

from eventgen.ir.model import Consumer, Message, Topic

BINDING_VERSION = "0.5.0"  # the Kafka bindings version whose schemas the parser ships
AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
JSON_SCHEMA_FORMAT = "application/schema+json;version=draft-07"

# Extension keys (the importer reads them back; docs/interop.md lists them).
X_PROJECT = "x-eventgen-project"  # info: {name, package, serialization, compatibility}
X_CONTEXT = "x-eventgen-context"  # info of a context document: the context name
X_TOPIC = "x-eventgen-topic"  # channel: the topic settings the Kafka binding cannot hold
X_DLQ_OF = "x-eventgen-dlq-of"  # channel of a DLQ topic: the channel id it is the DLQ of
X_MESSAGE = "x-eventgen-message"  # message: context, kind, name, version, key, topic, ...
X_JSON_SCHEMA = "x-eventgen-json-schema"  # message: $ref to its JSON Schema component
X_KEY_AVRO = "x-eventgen-key-avro"  # message Kafka binding's sibling: the key as Avro
X_UPCASTS = "x-eventgen-upcasts"  # message: the upcaster chain of older versions
X_OLDER_EXAMPLES = "x-eventgen-older-examples"  # message: examples of older versions
X_EXPECT = "x-eventgen-expect"  # message example: its `expect:` payload
X_RETURNS = "x-eventgen-returns"  # query message: the type or projection it returns
X_PRODUCER = "x-eventgen-producer"  # send operation: {context, outbox}
X_CONSUMER = "x-eventgen-consumer"  # receive operation: delivery, processing, retry, ...

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")  # AsyncAPI component keys: ^[a-zA-Z0-9.\-_]+$


def safe_key(text: str) -> str:
    """A component key made of the characters AsyncAPI allows (others become `_`)."""
    return _UNSAFE.sub("_", text) or "_"


def message_key(message: Message) -> str:
    return safe_key(message.qualified)


def schema_key(qualified: str) -> str:
    return safe_key(qualified)


def channel_id(topic: Topic) -> str:
    return safe_key(topic.qualified)


def dlq_channel_id(topic: Topic) -> str:
    return safe_key(f"{topic.qualified}.dlq")


def send_id(message: Message) -> str:
    return safe_key(f"{message.context}.send.{message.name}")


def receive_id(consumer: Consumer, topic: Topic) -> str:
    return safe_key(f"{consumer.qualified}.receive.{topic.qualified}")


def pointer(*parts: str) -> str:
    """A local JSON pointer `#/a/b`, with `~` and `/` escaped (RFC 6901)."""
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
