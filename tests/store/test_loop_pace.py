"""The loop's achieved pace: the slower of its target tick and its median step time."""

from ranopt.store.loops import pace_of


def test_no_loop_interval_no_pace() -> None:
    assert pace_of([], 1.0) is None


def test_fast_steps_keep_the_target() -> None:
    pace = pace_of([0.2, 0.3, 0.25], 1.0)
    assert pace is not None
    assert pace.seconds_per_interval == 1.0
    assert not pace.behind
    assert pace.step_s_median == 0.25


def test_slow_steps_set_the_pace() -> None:
    # the demo's promise of one interval a second, with steps of about 1.8 s
    steps = [1.7, 1.8, 1.9, 1.8, 4.0] + [1.8] * 15
    pace = pace_of(steps, 1.0)
    assert pace is not None
    assert pace.behind
    assert pace.seconds_per_interval == 1.8
    assert pace.step_s_p95 == 1.9  # the 19th of 20 ordered step times
    assert pace.intervals == 20
