"""Fixtures of the service-emitter tests: real builds of spec folders into temporary outputs."""

from tests.emit_services.helpers import example_build  # noqa: F401
from tests.services import kafka_bootstrap_servers, postgres_dsn  # noqa: F401
