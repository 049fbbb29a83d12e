"""Shared pytest configuration: fixtures live in tests/fixtures/ and are registered here."""

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.postgres",
]
