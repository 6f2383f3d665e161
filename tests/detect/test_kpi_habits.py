"""How the KPI detectors learn a cell's habit: per day type and hour, and load-aware.

Synthetic counters of four cells on one site (every cell the others' neighbour), consistent
with each other (no out-of-range rule fires), so that one effect at a time can be switched on:
commuters that make a weekend hour unlike the same hour of a weekday, and load-coupled
interference that makes a cell's efficiency per PRB fall when its neighbours are busier.
"""

from dataclasses import replace
from functools import cache

import numpy as np

from ranopt.counters import COUNTER_COLUMNS
from ranopt.detect.kpi import (
    ENERGY,
    JOULES_PER_KWH,
    NUM_STATS,
    OFFERED,
    POWER,
    PRB_AVAIL,
    PRB_TOT_PCT,
    PRB_USED,
    RRC,
    THP,
    VOLUME,
    CellContext,
    KpiBlock,
    KpiDetectorConfig,
    KpiState,
    KpiTransition,
    align_state,
    habit_bin,
    new_state,
    observe,
    weekday,
)
from ranopt.detect.neighbours import cell_context

IPD = 96
INTERVAL_S = 900
START_S = 1_767_571_200  # Monday 2026-01-05 00:00 UTC
NUM_CELLS = 4
NUM_PRB = 100.0
EFFICIENCY = 0.5  # Mbit per PRB-second
RATE_PER_EFFICIENCY = 160.0  # a UE's rate alone in the cell, Mbit/s per (Mbit per PRB-second)
SATURDAY_1000 = 12 * IPD + 40  # second Saturday, 10:00


def _context() -> CellContext:
    pairs = np.array([(i, j) for i in range(NUM_CELLS) for j in range(i + 1, NUM_CELLS)])
    return cell_context(np.arange(NUM_CELLS), np.full(NUM_CELLS, NUM_PRB), INTERVAL_S, pairs)


def _counters(utilisation: np.ndarray, efficiency: np.ndarray, rng: np.random.Generator):
    """Counters ``[T, C, K]`` of cells with PRB utilisation and efficiency ``[T, C]``.

    A UE's throughput is its rate alone in the cell (which scales with the efficiency: both
    follow the SINR) times ``1 - utilisation`` (processor sharing, Bonald & Proutiere 2003).
    """
    shape = utilisation.shape
    values = np.full((*shape, len(COUNTER_COLUMNS)), np.nan)
    used = utilisation * NUM_PRB
    volume = used * efficiency * INTERVAL_S
    power = 200.0 + 300.0 * utilisation
    values[..., PRB_USED] = used
    values[..., PRB_AVAIL] = NUM_PRB
    values[..., PRB_TOT_PCT] = 100.0 * utilisation
    values[..., VOLUME] = volume
    values[..., OFFERED] = volume
    values[..., RRC] = 30.0
    rate = RATE_PER_EFFICIENCY * efficiency
    values[..., THP] = rate * (1.0 - utilisation) * rng.lognormal(0.0, 0.03, shape)
    values[..., POWER] = power
    values[..., ENERGY] = power * INTERVAL_S / JOULES_PER_KWH
    return values


def _daily_utilisation(num_t: int) -> np.ndarray:
    """PRB utilisation ``[T]``: 10 % at night, 30 % in the day."""
    hour = (np.arange(num_t) % IPD) / 4.0
    return 0.2 - 0.1 * np.cos(2.0 * np.pi * (hour - 3.0) / 24.0)


def _run(values: np.ndarray, config: KpiDetectorConfig) -> list[KpiTransition]:
    context = _context()
    num_t = values.shape[0]
    times = START_S + INTERVAL_S * np.arange(num_t, dtype=np.int64)
    block = KpiBlock(
        times, values, np.ones((num_t, NUM_CELLS), bool), np.zeros((num_t, NUM_CELLS), bool)
    )
    _, found = observe(new_state(context.cell_id, config), block, context, config)
    return [t for t in found if t.raised]


def _interval(t: KpiTransition) -> int:
    return (t.at_s - START_S) // INTERVAL_S


def test_habit_bins_are_day_type_and_hour() -> None:
    config = KpiDetectorConfig()
    assert weekday(START_S) == 0
    assert weekday(START_S + 5 * 86_400) == 5  # Saturday
    assert habit_bin(START_S + 10 * 3_600 + 1_800, config) == 10  # Monday 10:30
    assert habit_bin(START_S + 5 * 86_400 + 10 * 3_600, config) == 24 + 10  # Saturday 10:00
    assert habit_bin(START_S + 7 * 86_400, config) == 0  # next Monday 00:00
    assert config.habit_bins == 48


def _weekend_commuters() -> np.ndarray:
    """13 days in which cell 0's efficiency is 25 % lower at weekend daytime (08-17 h), and
    an interference rise on it on the second Saturday from 10:00 (3 h)."""
    rng = np.random.default_rng(7)
    num_t = 13 * IPD
    util = np.repeat(_daily_utilisation(num_t)[:, None], NUM_CELLS, axis=1)
    util *= rng.lognormal(0.0, 0.03, util.shape)
    eff = EFFICIENCY * rng.lognormal(0.0, 0.03, util.shape)
    t = np.arange(num_t)
    hour = (t % IPD) // 4
    weekend_day = ((t // IPD) % 7 >= 5) & (hour >= 8) & (hour < 17)
    eff[weekend_day, 0] *= 0.75  # the residents at home sit where the cell serves worse
    _interfered(util, eff, slice(SATURDAY_1000, SATURDAY_1000 + 12))
    return _counters(util, eff, rng)


def _interfered(util: np.ndarray, eff: np.ndarray, window: slice) -> None:
    """Interference on cell 0 in ``window`` (in place): its SINR falls, so its efficiency and
    every UE's rate fall by 1.6 and the same volume needs 60 % more PRBs."""
    eff[window, 0] /= 1.6
    util[window, 0] *= 1.6


def test_a_weekend_unlike_the_weekdays_is_its_own_habit() -> None:
    """Commuters stay home at the weekend: its lower efficiency is a habit, not interference;
    a real interference rise on a weekend is still raised, against the weekend's habit."""
    values = _weekend_commuters()
    raised = _run(values, KpiDetectorConfig())
    assert [(t.kind, t.cell_id) for t in raised] == [("interference_rise", 0)]
    assert 0 <= _interval(raised[0]) - SATURDAY_1000 <= 6
    assert "at this hour of a weekend day" in raised[0].reason
    # one habit per hour of day (as before day types) mistakes the weekend for interference
    hour_of_day = replace(KpiDetectorConfig(), day_types=(0,) * 7, day_type_names=("day",))
    pooled = _run(values, hour_of_day)
    before = [t for t in pooled if _interval(t) < SATURDAY_1000]
    assert before
    assert all(t.kind == "interference_rise" and t.cell_id == 0 for t in before)
    assert all(weekday(t.at_s) >= 5 for t in before)


INTERFERENCE = 8 * IPD + 56  # second Tuesday, 14:00
BUSY_NEIGHBOURS = 9 * IPD + 56  # second Wednesday, 14:00
SLOPE = -0.5  # cell 0's log efficiency per log neighbour utilisation


def _coupled() -> np.ndarray:
    """Ten days in which cell 0's efficiency falls with its neighbours' utilisation.

    The neighbours' utilisation wanders around its daily shape, and is 1.8 times it for 3 h on
    the second Wednesday afternoon; cell 0's efficiency follows it with ``SLOPE``
    (load-coupled interference), its own load unchanged. On the Tuesday before, at the
    neighbours' usual load, an interference rise on cell 0 (3 h).
    """
    rng = np.random.default_rng(11)
    num_t = 10 * IPD
    base = _daily_utilisation(num_t)
    util = np.repeat(base[:, None], NUM_CELLS, axis=1)
    wander = rng.lognormal(0.0, 0.2, num_t)  # the neighbourhood's load, beyond its habit
    wander[BUSY_NEIGHBOURS : BUSY_NEIGHBOURS + 12] = 1.8
    wander[INTERFERENCE : INTERFERENCE + 12] = 1.0
    util[:, 1:] *= wander[:, None] * rng.lognormal(0.0, 0.03, (num_t, NUM_CELLS - 1))
    util[:, 0] *= rng.lognormal(0.0, 0.03, num_t)
    eff = EFFICIENCY * rng.lognormal(0.0, 0.02, util.shape)
    eff[:, 0] *= wander**SLOPE
    _interfered(util, eff, slice(INTERFERENCE, INTERFERENCE + 12))
    return _counters(np.minimum(util, 0.95), eff, rng)


def test_busier_neighbours_lower_the_expected_efficiency() -> None:
    """Load-coupled interference: 80 % busier neighbours cost cell 0 a quarter of its
    efficiency per PRB; the load-aware habit expects it, a flat one calls it interference.
    Interference at the neighbours' usual load is raised either way."""
    values = _coupled()
    raised = _run(values, KpiDetectorConfig())
    assert [(t.kind, t.cell_id) for t in raised] == [("interference_rise", 0)]
    assert 0 <= _interval(raised[0]) - INTERFERENCE <= 6
    assert "expected with the neighbours' PRB utilisation" in raised[0].reason
    flat = replace(KpiDetectorConfig(), nb_slope_min=0.0)  # no load-aware expectation
    busy = [t for t in _run(values, flat) if _interval(t) >= BUSY_NEIGHBOURS]
    assert [(t.kind, t.cell_id) for t in busy] == [("interference_rise", 0)]
    assert _interval(busy[0]) - BUSY_NEIGHBOURS <= 12


def test_a_state_stored_with_hour_of_day_habits_keeps_them_for_weekdays() -> None:
    """A state from before day types (24 bins, 3 baselines) is re-binned, not thrown away."""
    config = KpiDetectorConfig()
    state = new_state(np.arange(NUM_CELLS), config)
    old = state.arrays()
    old["share_mean"] = np.full((NUM_CELLS, 24), 0.25)
    old["share_n"] = np.full((NUM_CELLS, 24), 9)
    old["stat_mean"] = np.full((3, NUM_CELLS, 24), 1.5)
    old["stat_var"] = np.full((3, NUM_CELLS, 24), 0.01)
    old["stat_n"] = np.full((3, NUM_CELLS, 24), 9)
    for name in ("nb_sxy", "nb_sxx", "nb_n"):
        del old[name]
    stored = KpiState.from_arrays(old)
    aligned = align_state(stored, np.arange(NUM_CELLS), config)
    assert aligned.share_mean.shape == (NUM_CELLS, 48)
    assert aligned.stat_mean.shape == (NUM_STATS, NUM_CELLS, 48)
    assert (aligned.share_mean[:, :24] == 0.25).all()
    assert (aligned.share_n[:, 24:] == 0).all()  # the weekend learns afresh
    assert (aligned.stat_n[:3, :, :24] == 9).all()
    assert (aligned.stat_n[3] == 0).all()  # the neighbours' load baseline is new
    assert (aligned.nb_n == 0).all()


BUSY_CELL = 9 * IPD + 56  # second Wednesday, 14:00
TRANSPORT_CAP = 8 * IPD + 56  # second Tuesday, 14:00
USER_MIX = 10 * IPD + 56  # second Thursday, 14:00


@cache
def _processor_sharing() -> np.ndarray:
    """Eleven days in which cell 0's UE throughput is its single-user rate x (1 - utilisation)
    (processor sharing). Its utilisation rises to 80 % (usually 20-30 %) for 2 h on the
    second Wednesday at unchanged ``RRC.ConnMean`` (the same users asking for more); on the
    Tuesday before, a transport cap at 20 % of its throughput (2 h); on the Thursday after,
    its volume comes from users it serves worse for 2 h (efficiency per PRB 25 % lower, more
    PRBs for the same volume; the mean UE rate unchanged)."""
    rng = np.random.default_rng(5)
    num_t = 11 * IPD
    util = np.repeat(_daily_utilisation(num_t)[:, None], NUM_CELLS, axis=1)
    util *= rng.lognormal(0.0, 0.03, util.shape)
    util[BUSY_CELL : BUSY_CELL + 8, 0] = 0.8
    eff = EFFICIENCY * rng.lognormal(0.0, 0.02, util.shape)
    mix = slice(USER_MIX, USER_MIX + 8)
    rate = RATE_PER_EFFICIENCY * eff[mix, 0]
    eff[mix, 0] *= 0.75
    util[mix, 0] /= 0.75
    values = _counters(util, eff, rng)
    values[mix, 0, THP] = rate * (1.0 - util[mix, 0])
    window = slice(TRANSPORT_CAP, TRANSPORT_CAP + 8)
    values[window, 0, THP] *= 0.2
    for column in (VOLUME, OFFERED, PRB_USED, PRB_TOT_PCT):
        values[window, 0, column] *= 0.5  # half the volume gets through, on half the PRBs
    return values


@cache
def _shared(config: KpiDetectorConfig) -> list[KpiTransition]:
    return _run(_processor_sharing(), config)


def test_throughput_is_expected_at_the_cells_load_now() -> None:
    """A busier cell gives each UE less (processor sharing, Bonald & Proutiere 2003): at
    80 % PRB utilisation the throughput is a third of usual without any fault. The
    load-aware expectation takes it; a flat habit calls it a collapse. A transport cap is
    raised either way."""
    raised = _shared(KpiDetectorConfig())
    assert [(t.kind, t.cell_id) for t in raised] == [("throughput_collapse", 0)]
    assert 0 <= _interval(raised[0]) - TRANSPORT_CAP <= 2
    assert "expected at its PRB utilisation of" in raised[0].reason
    assert raised[0].expected is not None
    assert raised[0].observed is not None
    assert raised[0].observed < 0.3 * raised[0].expected
    pooled = _shared(replace(KpiDetectorConfig(), collapse_load_aware=False))
    assert [(t.kind, t.cell_id, _interval(t) >= BUSY_CELL) for t in pooled] == [
        ("throughput_collapse", 0, False), ("throughput_collapse", 0, True),
    ]  # fmt: skip
    assert _interval(pooled[1]) - BUSY_CELL <= 2


def test_an_interference_rise_needs_the_ue_throughput_to_fall_too() -> None:
    """Interference lowers every UE's SINR; users the cell serves worse carrying more of the
    volume lower the efficiency per PRB, not the mean UE rate. Judged on the efficiency alone
    (``interference_corroborate`` off) the user mix is an interference rise."""
    assert [t.kind for t in _shared(KpiDetectorConfig())] == ["throughput_collapse"]
    alone = replace(KpiDetectorConfig(), interference_corroborate=False)
    mix = [t for t in _shared(alone) if _interval(t) >= USER_MIX]
    assert [(t.kind, t.cell_id) for t in mix] == [("interference_rise", 0)]
    assert _interval(mix[0]) - USER_MIX <= 6
