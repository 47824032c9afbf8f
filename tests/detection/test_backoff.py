"""backoff_s: the one exponential backoff (live reconnects, webhook retries, worker restarts)."""

from __future__ import annotations

import pytest

from detection.backoff import backoff_s


@pytest.mark.parametrize(
    ("first_s", "step", "cap_s", "factor", "delay"),
    [
        (0.5, 0, 5.0, 2.0, 0.5),
        (0.5, 3, 5.0, 2.0, 4.0),
        (0.5, 4, 5.0, 2.0, 5.0),  # capped
        (0.5, -1, 5.0, 2.0, 0.5),  # no failure yet: the first delay
        (10.0, 8, 3600.0, 2.0, 2560.0),
        (1.0, 2, 100.0, 3.0, 9.0),
        (1.0, 5, 100.0, 1.0, 1.0),  # factor 1: a constant delay
        (1.0, 10**9, 30.0, 10.0, 30.0),  # no overflow after a very long outage
    ],
)
def test_delay_grows_by_the_factor_up_to_the_cap(
    first_s: float, step: int, cap_s: float, factor: float, delay: float
) -> None:
    assert backoff_s(first_s, step, cap_s, factor) == delay
