"""Fixtures of the saga and choreography tests: the real Kafka and PostgreSQL of scripts/services."""

from tests.services import kafka_bootstrap_servers, postgres_dsn  # noqa: F401
