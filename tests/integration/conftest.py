from tests.services import kafka_bootstrap_servers, postgres_dsn  # noqa: F401
