from tests.emit_services.helpers import example_build  # noqa: F401
