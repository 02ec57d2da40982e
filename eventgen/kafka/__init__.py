"""Topic definitions, validation, and plan/apply against a live Kafka cluster."""
