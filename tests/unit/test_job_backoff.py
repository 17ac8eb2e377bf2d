"""Retry backoff: doubling from the base after each attempt, capped."""

from __future__ import annotations

import pytest

from domain.services.jobs import backoff_seconds


@pytest.mark.parametrize(("attempt", "expected"), [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (40, 60.0)])
def test_backoff_doubles_from_the_base_up_to_the_cap(attempt, expected):
    assert backoff_seconds(attempt) == expected


def test_backoff_follows_base_and_cap():
    assert [backoff_seconds(a, base=0.5, cap=3.0) for a in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_an_attempt_below_one_waits_the_base():
    assert backoff_seconds(0, base=1.5) == 1.5
