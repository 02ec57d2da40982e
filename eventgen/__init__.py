"""eventgen: a declarative, YAML-driven code generator for event-driven platforms on Kafka."""

__version__ = "0.1.0"
