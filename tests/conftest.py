"""Shared pytest configuration: fixtures live in tests/fixtures/ and are registered here."""

import os

# The store refuses to hash record keys without a secret (there is no public fallback key):
# every store the tests build, in this process or in a child, hashes under this test key.
os.environ.setdefault("SIAPP_SIASN_HASH_KEY", "test-only-hash-key")

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.postgres",
]
