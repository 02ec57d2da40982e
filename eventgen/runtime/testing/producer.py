"""`InMemoryProducer`: the ProducerLike subset of confluent_kafka.Producer, in memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin._metadata import ClusterMetadata

from eventgen.runtime.testing._log import Entry, GroupMetadata, Txn, error, metadata

if TYPE_CHECKING:
    from eventgen.runtime.testing.broker import InMemoryBroker


@dataclass
class Pending:
    entry: Entry | None
    error: KafkaError | None
    callback: Callable[[Any, Any], None] | None
    message: Message


class InMemoryProducer:
    """The ProducerLike subset of confluent_kafka.Producer, on an InMemoryBroker.

    produce() appends at once (a transaction's records stay invisible to read_committed
    readers until commit); delivery callbacks run in poll() and flush(), as with librdkafka.
    """

    def __init__(self, broker: InMemoryBroker, config: dict[str, Any], name: str) -> None:
        self._broker = broker
        self._name = name
        self._transactional_id: str | None = config.get("transactional.id")
        self._default_callback = config.get("on_delivery") or config.get("delivery.report.cb")
        self._pending: list[Pending] = []
        self._txn: Txn | None = None
        self._ready = False  # init_transactions() done
        self._fenced = False
        self._txn_failed = False  # a record of the open transaction failed: commit aborts

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int = -1,
        on_delivery: Callable[[Any, Any], None] | None = None,
        timestamp: int = 0,
        headers: Sequence[tuple[str, bytes]] | None = None,
        callback: Callable[[Any, Any], None] | None = None,
    ) -> None:
        self._check_fenced()
        handler = on_delivery or callback or self._default_callback
        if self._transactional_id is not None and self._txn is None:
            raise error(KafkaError._STATE, "produce() outside a transaction")
        broker = self._broker
        with broker._lock:
            fault = broker._take_fault(topic)
            try:
                if fault is not None:
                    raise KafkaException(fault)
                entry = broker._append(topic, value, key, partition, headers, timestamp, self._txn)
            except KafkaException as exc:
                # librdkafka reports an unknown topic (or a timed-out record) through the
                # delivery callback, not from produce().
                failed = Message(topic=topic, partition=partition, key=key, value=value)
                self._pending.append(Pending(None, exc.args[0], handler, failed))
                self._txn_failed = self._txn is not None
                return
            self._pending.append(Pending(entry, None, handler, entry.message()))

    def poll(self, timeout: float = -1) -> int:
        pending, self._pending = self._pending, []
        for item in pending:
            if item.callback is not None:
                item.callback(item.error, item.message)
        return len(pending)

    def flush(self, timeout: float = -1) -> int:
        self.poll(0)
        return 0

    def __len__(self) -> int:
        return len(self._pending)

    # -- transactions --------------------------------------------------------------------------

    def init_transactions(self, timeout: float = -1) -> None:
        if self._transactional_id is None:
            raise error(KafkaError._NOT_CONFIGURED, "init_transactions() needs transactional.id")
        broker = self._broker
        with broker._lock:
            previous = broker._transactional.get(self._transactional_id)
            if previous is not None and previous is not self:
                previous._fenced = True  # a restarted instance fences its predecessor
                if previous._txn is not None and previous._txn.state == "open":
                    previous._txn.state = "aborted"
                    broker._changed.notify_all()
            broker._transactional[self._transactional_id] = self
        self._ready = True

    def begin_transaction(self) -> None:
        self._check_fenced()
        if not self._ready:
            raise error(KafkaError._STATE, "begin_transaction() before init_transactions()")
        if self._txn is not None:
            raise error(KafkaError._STATE, "a transaction is already open")
        assert self._transactional_id is not None
        self._txn = Txn(self._transactional_id)
        self._txn_failed = False

    def send_offsets_to_transaction(
        self, positions: list[TopicPartition], group_metadata: Any, timeout: float = -1
    ) -> None:
        self._check_fenced()
        if self._txn is None:
            raise error(KafkaError._STATE, "send_offsets_to_transaction() outside a transaction")
        if not isinstance(group_metadata, GroupMetadata):
            raise error(KafkaError._INVALID_ARG, "group_metadata: from consumer_group_metadata()")
        offsets = self._txn.offsets.setdefault(group_metadata.group_id, {})
        offsets.update({(tp.topic, tp.partition): tp.offset for tp in positions})

    def commit_transaction(self, timeout: float = -1) -> None:
        self._check_fenced()
        txn = self._open_txn("commit_transaction")
        self.flush()
        if self._txn_failed:
            self.abort_transaction()
            raise error(KafkaError._STATE, "a record of the transaction failed: aborted")
        broker = self._broker
        with broker._lock:
            txn.state = "committed"
            for group, offsets in txn.offsets.items():
                broker._group(group).committed.update(offsets)
            broker._changed.notify_all()
        self._txn = None

    def abort_transaction(self, timeout: float = -1) -> None:
        self._check_fenced()
        txn = self._open_txn("abort_transaction")
        self._pending = [p for p in self._pending if p.entry is None or p.entry.txn is not txn]
        with self._broker._lock:
            txn.state = "aborted"
            self._broker._changed.notify_all()
        self._txn = None

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        with self._broker._lock:
            return metadata(self._broker._logs, topic)

    def _open_txn(self, what: str) -> Txn:
        if self._txn is None:
            raise error(KafkaError._STATE, f"{what}() without an open transaction")
        return self._txn

    def _check_fenced(self) -> None:
        if self._fenced:
            raise error(
                KafkaError._FENCED,
                f"transactional.id {self._transactional_id!r} was taken by a newer producer",
                fatal=True,
            )
