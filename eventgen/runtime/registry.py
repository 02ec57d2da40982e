"""Lookup of generated message classes by wire type, per topic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Message


class MessageRegistry:
    """Message classes by their envelope `type`: the discriminator used for decoding."""

    def __init__(self, messages: Iterable[type[Message]]) -> None:
        self._by_type: dict[str, type[Message]] = {}
        for cls in messages:
            if cls.TYPE in self._by_type:
                raise ValueError(f"duplicate message type {cls.TYPE}")
            self._by_type[cls.TYPE] = cls

    def __contains__(self, message_type: object) -> bool:
        return message_type in self._by_type

    def __iter__(self) -> Any:
        return iter(self._by_type.values())

    def get(self, message_type: str) -> type[Message]:
        """The class for `message_type`, or DecodeError("unknown_type")."""
        try:
            return self._by_type[message_type]
        except (KeyError, TypeError):
            raise DecodeError("unknown_type", f"no message {message_type!r}") from None


@dataclass(frozen=True)
class TopicBinding:
    """A Kafka topic, the messages it carries and its key schema (None: unkeyed)."""

    name: str
    messages: tuple[type[Message], ...]
    key_schema: Mapping[str, Any] | str | None = None
    registry: MessageRegistry = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "registry", MessageRegistry(self.messages))
