"""Session fixtures that more than one test folder uses, registered once."""

from tests.services import registry_url  # noqa: F401
