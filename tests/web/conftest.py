"""The web app's tests use the API tests' app and accounts (tests/api/conftest.py)."""

from tests.api.conftest import PASSWORD, USERS, Api, api

__all__ = ["PASSWORD", "USERS", "Api", "api"]
