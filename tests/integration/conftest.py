"""The integration tier's fixtures: a fresh in-process local AWS per test (aws_fixtures.py)."""

from aws_fixtures import *  # noqa: F403  (the fixtures: session, world, aws, calls, stack)
