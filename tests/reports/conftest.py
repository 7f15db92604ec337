"""The API fixture of tests/api (the real app over SQLite and PostgreSQL, one account per
role) for the study report tests."""

from tests.api.conftest import api  # noqa: F401 - a fixture, found by name
