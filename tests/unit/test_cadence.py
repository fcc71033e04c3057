import pytest

from service.cadence import Observation, Policy, next_interval

POLICY = Policy(default=600, minimum=120, maximum=21600)


@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        (Observation(ok=True), 600),  # no dated item: the default
        (Observation(ok=True, published_this_week=168), 3600),  # hourly publisher
        (Observation(ok=True, published_this_week=500), 1209.6),  # 500 a week
        (Observation(ok=True, published_this_week=20000), 120),  # very busy: the lower bound
        (Observation(ok=True, published_this_week=7), 21600),  # daily: the upper bound
        (Observation(ok=True, published_this_week=0), 21600),  # dated, nothing this week
        (Observation(ok=True, published_this_week=168, server_hint=7200), 7200),  # ttl / max-age
        (Observation(ok=True, published_this_week=168, server_hint=600), 3600),  # a shorter hint: ours
        (Observation(ok=True, server_hint=99999), 21600),  # within the upper bound
        (Observation(ok=True, published_this_week=168, gap=True), 120),  # possible gap: soon
        (Observation(ok=False, consecutive_errors=1), 600),
        (Observation(ok=False, consecutive_errors=3), 2400),
        (Observation(ok=False, consecutive_errors=30), 21600),  # capped, never suspended
        (Observation(ok=False, consecutive_errors=1, retry_after=3000), 3000),  # Retry-After wins
        (Observation(ok=False, consecutive_errors=1, retry_after=90 * 86400), 21600),  # ... up to the cap
        (Observation(ok=False, consecutive_errors=1, published_this_week=1), 21600),  # backs off from the rate
    ],
)
def test_next_interval(obs: Observation, expected: float) -> None:
    assert next_interval(POLICY, obs) == pytest.approx(expected)


def test_pinned_interval_is_kept_but_failures_still_back_off() -> None:
    pinned = Policy(fixed=900)
    assert next_interval(pinned, Observation(ok=True, published_this_week=500, gap=True)) == 900
    assert next_interval(pinned, Observation(ok=False, consecutive_errors=2)) == 1800
