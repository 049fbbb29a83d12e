"""Hypothesis settings for the model tests: no example database on disk, no deadline
(the machine is small and shared), a bounded number of examples to stay fast."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "models",
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("models")
