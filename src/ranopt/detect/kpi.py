"""KPI anomaly detection per cell, streaming over intervals (pure numpy, explicit state).

``observe(state, block, context, config)`` judges the new samples of one or more intervals
and returns the new state and the conditions raised or cleared.

Every habit (usual value and spread) is learned per cell, day type and hour of day
(``habit_bin``): the users of a cell at 10:00 on a Saturday are not those of a Tuesday (commuters
stay home), so weekdays and weekend days keep separate habits (``day_types``). The detectors:

- **sleeping cell**: a cell that is up (``RRU.PrbAvailDl`` > 0, not put to sleep by the applied
  plan) carries no UE and no volume while its neighbours carry the users it usually holds.
  Its usual share of the neighbourhood's ``RRC.ConnMean`` (per habit bin) times what the
  neighbours carry now is the expected count ``lambda``; a run of silent intervals is raised
  once the expected counts add up to ``sleeping_evidence`` (Poisson: ``P(0 UE) = e^-lambda``
  per interval, so the run's probability under normal operation is ``e^-sum(lambda)``).
- **throughput collapse**: ``DRB.UEThpDl`` below ``collapse_ratio`` of its usual value in its
  habit bin (and beyond ``collapse_sigmas`` of its spread) for ``collapse_intervals`` intervals
  while ``RRC.ConnMean`` is within ``load_tolerance`` of its usual value and the cell is not
  congested (PRB utilisation below ``congestion_utilisation``: a saturated cell's throughput is
  set by its load). With ``collapse_load_aware`` the habit is of the throughput per unit of
  PRB headroom, ``DRB.UEThpDl / (1 - utilisation)`` (processor sharing, Bonald & Proutiere
  2003), so a busier cell's lower throughput is expected.
- **interference rise**: the cell's spectral efficiency per PRB, ``DRB.PdcpSduVolumeDL`` /
  ``RRU.PrbUsedDl`` (Mbit per PRB-second: PRBs used per bit rise when SINR falls, Shannon),
  drifts below what its habit bin expects at unchanged ``RRC.ConnMean``: a one-sided CUSUM
  (Page 1954) of the log drop beyond a slack, raised at ``interference_threshold``. The
  expectation is load-aware: the neighbours' PRB utilisation is the interference a cell's own
  network makes (load-coupled interference), so each cell learns how its log efficiency moves
  with its neighbours' log utilisation away from their habit (an exponentially weighted
  least-squares slope, never positive) and expects that much less when they are busier. With
  ``interference_corroborate`` the CUSUM adds the smaller of that drop and the UE throughput's
  drop at the cell's load: interference lowers every UE's rate, a change of which users carry
  the volume lowers the efficiency per PRB only.
- **counter faults**: *frozen* (every reported counter repeats its previous value for
  ``frozen_intervals`` intervals while the cell carries traffic), *out of range* (counters
  that contradict each other or the cell: used > available PRBs, available > the cell's PRBs,
  total PRB usage below data PRB usage, served > offered volume, energy != power x interval),
  *missing* (the cell has not reported for ``missing_intervals`` intervals the network reported).

Cells the applied plan put to sleep are not judged (and do not teach the baselines): energy
saving is not an anomaly. A (cell, interval) is judged once, when it first arrives; a sample of
an interval at or before the cell's newest judged one only serves as neighbour context.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from ranopt.counters import COUNTER_BY_COLUMN, COUNTER_COLUMNS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

KINDS: tuple[str, ...] = (
    "sleeping_cell",
    "throughput_collapse",
    "interference_rise",
    "counter_frozen",
    "counter_out_of_range",
    "counter_missing",
)
SEVERITY: dict[str, str] = {
    "sleeping_cell": "critical",
    "throughput_collapse": "major",
    "interference_rise": "minor",
    "counter_frozen": "minor",
    "counter_out_of_range": "minor",
    "counter_missing": "minor",
}
SLEEPING, COLLAPSE, INTERFERENCE, FROZEN, OUT_OF_RANGE, MISSING = range(len(KINDS))

COLUMN_INDEX: dict[str, int] = {c: i for i, c in enumerate(COUNTER_COLUMNS)}
PRB_USED = COLUMN_INDEX["prb_used_dl"]
PRB_AVAIL = COLUMN_INDEX["prb_avail_dl"]
PRB_TOT_PCT = COLUMN_INDEX["prb_tot_dl_pct"]
THP = COLUMN_INDEX["ue_thp_dl_mbps"]
RRC = COLUMN_INDEX["rrc_conn_mean"]
POWER = COLUMN_INDEX["pee_avg_power_w"]
ENERGY = COLUMN_INDEX["pee_energy_kwh"]
VOLUME = COLUMN_INDEX["dl_volume_mbit"]
OFFERED = COLUMN_INDEX["offered_dl_volume_mbit"]
NUM_COUNTERS = len(COUNTER_COLUMNS)

# the baselines kept per cell and habit bin: log UE throughput, log(1 + RRC connections),
# log spectral efficiency per PRB, log of the neighbours' mean PRB utilisation
STAT_THP, STAT_LOAD, STAT_EFF, STAT_NB = range(4)
NUM_STATS = 4
NB_UTILISATION_FLOOR = 0.01  # added to the neighbours' utilisation before the log
SECONDS_PER_DAY = 86_400
EPOCH_WEEKDAY = 3  # 1970-01-01 (epoch second 0) was a Thursday; Monday is 0
JOULES_PER_KWH = 3.6e6


def counter_name(column: str) -> str:
    """Return the TS 28.552 name of a stored counter column (``dl_volume_mbit`` -> DRB...)."""
    return COUNTER_BY_COLUMN[column].name


@dataclass(frozen=True)
class KpiDetectorConfig:
    """Thresholds of the KPI detectors (chosen on clean twin data, see docs/detection.md)."""

    hour_bins: int = 24  # habit bins per day (UTC): one per hour
    # day type of each weekday, Monday first: weekdays and weekend days keep separate habits
    day_types: tuple[int, ...] = (0, 0, 0, 0, 0, 1, 1)
    day_type_names: tuple[str, ...] = ("weekday", "weekend day")
    bin_alpha: float = 0.1  # exponential forgetting per observation of a bin (~2.5 days)
    bin_warmup: int = 8  # observations of a bin before it is judged (2 days of 15-min data)
    min_sd: float = 0.05  # floor of a baseline's log spread
    load_tolerance: float = 0.5  # "unchanged load": RRC.ConnMean within x1.5 of its usual
    sleeping_evidence: float = 10.0  # sum of expected UEs over the silent run (e^-10)
    sleeping_min_intervals: int = 2
    sleeping_min_lambda: float = 0.5  # intervals expecting fewer UEs add no evidence
    silent_volume_mbit: float = 0.1  # "carries nothing": below this DL volume and no UE
    collapse_ratio: float = 0.4  # throughput below 40 % of usual
    collapse_sigmas: float = 4.0
    collapse_intervals: int = 2
    congestion_utilisation: float = 0.85  # above it low throughput is the load's (congestion)
    # judge DRB.UEThpDl per unit of PRB headroom, thp / (1 - PRB utilisation): processor
    # sharing gives each UE its rate x (1 - utilisation) (Bonald & Proutiere 2003)
    collapse_load_aware: bool = True
    interference_slack: float = 0.1  # log drop tolerated per interval (~10 %)
    interference_slack_sigmas: float = 2.0
    interference_threshold: float = 0.6  # CUSUM of log drops beyond the slack
    # interference lowers every UE's SINR: the UE throughput (per unit of PRB headroom) must
    # fall with the efficiency per PRB; a change of which users are active moves the
    # volume-weighted efficiency, hardly the mean UE rate. The CUSUM adds the smaller drop.
    interference_corroborate: bool = True
    # load-aware efficiency: slope of log efficiency on the neighbours' log PRB utilisation
    nb_slope_alpha: float = 0.005  # exponential forgetting per observation (~2 days at 15 min)
    nb_slope_ridge: float = 1e-3  # ridge on the slope's denominator (log-utilisation variance)
    nb_slope_min: float = -1.0  # steepest slope believed (efficiency ~ load^-1)
    min_prb_used: float = 1.0  # efficiency is judged only above this mean PRB use
    frozen_intervals: int = 4  # identical samples in a row (1 h at 15 min)
    missing_intervals: int = 2  # network intervals without the cell's sample
    clear_intervals: int = 2  # normal evaluations before a raised condition clears
    tolerance_prb: float = 0.5  # slack of the PRB consistency rules, PRBs
    tolerance_pct: float = 5.0  # slack of RRU.PrbTotDl against data PRB usage, points
    tolerance_volume: float = 0.01  # served may exceed offered volume by 1 % (rounding)
    tolerance_energy: float = 0.05  # PEE.Energy within 5 % of PEE.AvgPower x interval

    def __post_init__(self) -> None:
        if len(self.day_types) != 7 or min(self.day_types) < 0:
            msg = "day_types must give a day type (0, 1, ...) for each of the 7 weekdays"
            raise ValueError(msg)
        if len(self.day_type_names) <= max(self.day_types):
            msg = "day_type_names must name every day type in day_types"
            raise ValueError(msg)

    @property
    def habit_bins(self) -> int:
        """Habit bins per cell: day types x bins per day."""
        return (max(self.day_types) + 1) * self.hour_bins


def weekday(t_s: int) -> int:
    """Return the UTC weekday of epoch second ``t_s`` (Monday 0 ... Sunday 6)."""
    return (t_s // SECONDS_PER_DAY + EPOCH_WEEKDAY) % 7


def habit_bin(t_s: int, config: KpiDetectorConfig) -> int:
    """Return the habit bin of epoch second ``t_s``: its day type's block, then its hour."""
    hour = (t_s % SECONDS_PER_DAY) * config.hour_bins // SECONDS_PER_DAY
    return config.day_types[weekday(t_s)] * config.hour_bins + hour


def habit_words(t_s: int, config: KpiDetectorConfig) -> str:
    """Return when the habit holds, in words: ``at this hour of a weekday``."""
    name = config.day_type_names[config.day_types[weekday(t_s)]]
    article = "an" if name[:1] in "aeiou" else "a"
    return f"at this hour of {article} {name}"


@dataclass(frozen=True, eq=False)
class CellContext:
    """What the detectors know of a network's cells, arrays ``[C]`` in ``cell_id`` order.

    ``neighbour_ptr`` / ``neighbour_idx`` are the neighbour lists in CSR form (cell ``c``'s
    neighbours are ``neighbour_idx[neighbour_ptr[c]:neighbour_ptr[c + 1]]``).
    """

    cell_id: IntArray
    num_prb: FloatArray
    neighbour_ptr: IntArray
    neighbour_idx: IntArray
    interval_s: int

    @property
    def num_cells(self) -> int:
        """Number of cells."""
        return int(self.cell_id.shape[0])

    @property
    def edge_row(self) -> IntArray:
        """The cell each neighbour entry belongs to, ``[E]``."""
        return np.repeat(np.arange(self.num_cells, dtype=np.int64), np.diff(self.neighbour_ptr))


@dataclass(frozen=True, eq=False)
class KpiBlock:
    """Samples of ``T`` intervals of one network, ascending in time.

    ``values`` ``[T, C, K]`` holds the counters in ``COUNTER_COLUMNS`` order (NaN: absent);
    ``reported`` ``[T, C]`` marks cells with a sample; ``asleep`` ``[T, C]`` the cells the
    applied plan puts to sleep in that interval.
    """

    interval_start_s: IntArray
    values: FloatArray
    reported: BoolArray
    asleep: BoolArray


@dataclass(frozen=True, eq=False)
class KpiState:
    """Everything the detectors remember of a network between two blocks, arrays per cell."""

    cell_id: IntArray  # [C]
    newest_s: int  # newest interval any cell reported (-1: none)
    last_s: IntArray  # [C] newest judged interval of each cell (-1: none)
    last_values: FloatArray  # [C, K]
    frozen_run: IntArray  # [C] samples in a row equal to the one before
    share_mean: FloatArray  # [C, B] usual share of the neighbourhood's RRC connections
    share_n: IntArray  # [C, B]
    silent_evidence: FloatArray  # [C] sum of expected UEs over the current silent run
    silent_run: IntArray  # [C]
    stat_mean: FloatArray  # [NUM_STATS, C, B] baselines per habit bin (log values)
    stat_var: FloatArray  # [NUM_STATS, C, B]
    stat_n: IntArray  # [NUM_STATS, C, B]
    nb_sxy: FloatArray  # [C] EW mean of (efficiency residual x neighbour-load residual)
    nb_sxx: FloatArray  # [C] EW mean of (neighbour-load residual)^2
    nb_n: IntArray  # [C] observations of the two
    collapse_run: IntArray  # [C]
    cusum: FloatArray  # [C] interference CUSUM
    cusum_since_s: IntArray  # [C]
    active: BoolArray  # [C, N_KINDS] raised and not cleared
    active_since_s: IntArray  # [C, N_KINDS]
    calm_run: IntArray  # [C, N_KINDS] normal evaluations since the condition was last seen

    @property
    def num_cells(self) -> int:
        """Number of cells."""
        return int(self.cell_id.shape[0])

    @property
    def habit_bins(self) -> int:
        """Habit bins per cell the state holds."""
        return int(self.share_mean.shape[1])

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Return every field as an array (for storing the state)."""
        out: dict[str, npt.NDArray[np.generic]] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = np.asarray(value)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[np.generic]]) -> "KpiState":
        """Rebuild a state from ``arrays()`` output (dtypes restored).

        The neighbour-load slope's fields, absent from states stored before it, start at 0.
        """
        kwargs: dict[str, object] = {}
        cells = int(np.asarray(arrays["cell_id"]).shape[0])
        for name in cls.__dataclass_fields__:
            if name not in arrays and name in _SLOPE_FIELDS:
                kwargs[name] = np.zeros(cells, dtype=np.int64 if name == "nb_n" else np.float64)
                continue
            value = arrays[name]
            kwargs[name] = int(value) if name == "newest_s" else np.array(value)
        return cls(**kwargs)  # type: ignore[arg-type]


_SLOPE_FIELDS = ("nb_sxy", "nb_sxx", "nb_n")


@dataclass(frozen=True)
class KpiTransition:
    """A condition raised or cleared on one cell, with what a person needs to read it."""

    kind: str
    cell_id: int
    raised: bool  # True: raised, False: cleared
    at_s: int  # interval in which it changed
    since_s: int  # first interval of the condition
    counter: str  # TS 28.552 name(s) of the counter(s) judged
    expected: float | None
    observed: float | None
    reason: str  # readable: counter, expected vs observed, for how long


def new_state(cell_ids: IntArray, config: KpiDetectorConfig | None = None) -> KpiState:
    """Return the state of a network whose cells were never seen."""
    config = config or KpiDetectorConfig()
    c, h, k = int(cell_ids.shape[0]), config.habit_bins, len(KINDS)
    return KpiState(
        cell_id=np.asarray(cell_ids, dtype=np.int64).copy(),
        newest_s=-1,
        last_s=np.full(c, -1, dtype=np.int64),
        last_values=np.full((c, NUM_COUNTERS), np.nan),
        frozen_run=np.zeros(c, dtype=np.int64),
        share_mean=np.zeros((c, h)),
        share_n=np.zeros((c, h), dtype=np.int64),
        silent_evidence=np.zeros(c),
        silent_run=np.zeros(c, dtype=np.int64),
        stat_mean=np.zeros((NUM_STATS, c, h)),
        stat_var=np.zeros((NUM_STATS, c, h)),
        stat_n=np.zeros((NUM_STATS, c, h), dtype=np.int64),
        nb_sxy=np.zeros(c),
        nb_sxx=np.zeros(c),
        nb_n=np.zeros(c, dtype=np.int64),
        collapse_run=np.zeros(c, dtype=np.int64),
        cusum=np.zeros(c),
        cusum_since_s=np.full(c, -1, dtype=np.int64),
        active=np.zeros((c, k), dtype=bool),
        active_since_s=np.full((c, k), -1, dtype=np.int64),
        calm_run=np.zeros((c, k), dtype=np.int64),
    )


def align_state(
    state: KpiState, cell_ids: IntArray, config: KpiDetectorConfig | None = None
) -> KpiState:
    """Return ``state`` re-indexed to ``cell_ids``: new cells start fresh, gone cells drop.

    A state with other habit bins than ``config`` (stored before day types) is re-binned
    first (``_rebin``).
    """
    config = config or KpiDetectorConfig()
    state = _rebin(state, config)
    if np.array_equal(state.cell_id, cell_ids):
        return state
    fresh = new_state(cell_ids, config)
    position = {int(c): i for i, c in enumerate(state.cell_id)}
    # [C_new] index into the old arrays, -1 for a new cell
    source = np.array([position.get(int(c), -1) for c in cell_ids], dtype=np.int64)
    keep = source >= 0
    updates: dict[str, object] = {"newest_s": state.newest_s}
    for name in KpiState.__dataclass_fields__:
        if name in ("cell_id", "newest_s"):
            continue
        old = getattr(state, name)
        new = getattr(fresh, name).copy()
        if name.startswith("stat_"):
            new[:, keep] = old[:, source[keep]]
        else:
            new[keep] = old[source[keep]]
        updates[name] = new
    return replace(fresh, **updates)  # type: ignore[arg-type]


_HABIT_FIELDS = ("share_mean", "share_n", "stat_mean", "stat_var", "stat_n")


def _rebin(state: KpiState, config: KpiDetectorConfig) -> KpiState:
    """Return ``state`` with ``config``'s habit bins and baselines.

    A state of one day type (hour-of-day habits, as stored before day types) keeps them as the
    habits of day type 0 (weekdays, 5 of the 7 days that taught them); every other day type,
    and any other mismatch, learns afresh. A state stored before the neighbour-load baseline
    learns it (and the slope) afresh.
    """
    stats = int(state.stat_mean.shape[0])
    if state.habit_bins == config.habit_bins and stats == NUM_STATS:
        return state
    fresh = new_state(state.cell_id, config)
    updates: dict[str, object] = {}
    keep = min(stats, NUM_STATS)
    for name in _HABIT_FIELDS:
        old, new = getattr(state, name), getattr(fresh, name).copy()
        if name.startswith("stat_"):
            old, target = old[:keep], new[:keep]
        else:
            target = new
        if state.habit_bins == config.habit_bins:
            target[...] = old
        elif state.habit_bins == config.hour_bins:
            target[..., : config.hour_bins] = old
        updates[name] = new
    if stats != NUM_STATS:
        updates.update({name: getattr(fresh, name) for name in _SLOPE_FIELDS})
    return replace(state, **updates)  # type: ignore[arg-type]


@dataclass
class _Work:
    """Mutable copies of the state's arrays while a block is judged."""

    newest_s: int
    last_s: IntArray
    last_values: FloatArray
    frozen_run: IntArray
    share_mean: FloatArray
    share_n: IntArray
    silent_evidence: FloatArray
    silent_run: IntArray
    stat_mean: FloatArray
    stat_var: FloatArray
    stat_n: IntArray
    nb_sxy: FloatArray
    nb_sxx: FloatArray
    nb_n: IntArray
    collapse_run: IntArray
    cusum: FloatArray
    cusum_since_s: IntArray
    active: BoolArray
    active_since_s: IntArray
    calm_run: IntArray
    out: list[KpiTransition] = field(default_factory=list)


_ARRAY_FIELDS = tuple(n for n in KpiState.__dataclass_fields__ if n not in ("cell_id", "newest_s"))
ReasonFn = Callable[[int], tuple[str, float | None, float | None, str]]


def _ew_update(
    mean: FloatArray, var: FloatArray, n: IntArray, x: FloatArray, mask: BoolArray, alpha: float
) -> None:
    """Exponentially weighted mean and variance of ``x`` where ``mask`` (in place, ``[C]``).

    The weight starts at ``1/(n+1)`` (a plain average while the bin fills) and settles at
    ``alpha``.
    """
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return
    a = np.maximum(alpha, 1.0 / (n[idx] + 1.0))
    delta = x[idx] - mean[idx]
    mean[idx] += a * delta
    var[idx] = (1.0 - a) * (var[idx] + a * delta * delta)
    n[idx] += 1


def observe(
    state: KpiState,
    block: KpiBlock,
    context: CellContext,
    config: KpiDetectorConfig | None = None,
) -> tuple[KpiState, list[KpiTransition]]:
    """Judge the block's new samples; return the new state and the raised/cleared conditions.

    ``state`` must be aligned to ``context.cell_id`` (``align_state``); it is not modified.
    """
    config = config or KpiDetectorConfig()
    if not np.array_equal(state.cell_id, context.cell_id):
        msg = "state and context must list the same cells (align_state first)"
        raise ValueError(msg)
    if state.habit_bins != config.habit_bins or state.stat_mean.shape[0] != NUM_STATS:
        msg = f"state holds {state.habit_bins} habit bins, config {config.habit_bins} (align_state)"
        raise ValueError(msg)
    copies = {name: getattr(state, name).copy() for name in _ARRAY_FIELDS}
    work = _Work(newest_s=state.newest_s, **copies)
    edge_row = context.edge_row
    for i, t in enumerate(block.interval_start_s.tolist()):
        _step(
            work,
            int(t),
            block.values[i],
            block.reported[i],
            block.asleep[i],
            context,
            edge_row,
            config,
        )
    arrays = {name: getattr(work, name) for name in _ARRAY_FIELDS}
    new = KpiState(cell_id=state.cell_id, newest_s=work.newest_s, **arrays)
    return new, work.out


def _step(
    work: _Work,
    t: int,
    values: FloatArray,
    present: BoolArray,
    asleep: BoolArray,
    context: CellContext,
    edge_row: IntArray,
    config: KpiDetectorConfig,
) -> None:
    """Judge one interval ``t`` (``values`` ``[C, K]``)."""
    new = present & (t > work.last_s)  # [C] samples judged now
    if present.any():
        work.newest_s = max(work.newest_s, t)
    avail = values[:, PRB_AVAIL]
    up = new & ~asleep & ~(avail <= 0.0)  # NaN availability: up unless the plan says asleep
    # a cell put to sleep by the plan: its conditions end (nothing to observe)
    for kind in range(len(KINDS) if asleep.any() else 0):
        _clear(work, kind, asleep & work.active[:, kind], t, context, "put to sleep by the plan")
    consistent = _out_of_range(work, t, values, new, context, config)
    up &= consistent  # a sample that contradicts itself is judged for nothing else
    _frozen(work, t, values, new & ~asleep, context, config)
    # [C] neighbours the plan put to sleep: their users and interference moved
    nb_asleep = np.bincount(
        edge_row, weights=asleep[context.neighbour_idx].astype(np.float64),
        minlength=context.num_cells,
    ) > 0  # fmt: skip
    _sleeping(work, t, values, present, up, nb_asleep, context, edge_row, config)
    # throughput and efficiency baselines hold only with the neighbourhood as it usually is
    _radio(work, t, values, up & ~nb_asleep, context, edge_row, config)
    work.last_s[new] = t
    work.last_values[new] = values[new]
    _missing(work, t, asleep, context, config)


def _transitions(
    work: _Work,
    kind: int,
    evaluated: BoolArray,
    condition: BoolArray,
    since_s: IntArray,
    t: int,
    context: CellContext,
    reason: ReasonFn,
    clear_after: int,
) -> None:
    """Raise conditions that start, clear those normal for ``clear_after`` evaluations."""
    active = work.active[:, kind]
    raise_ = evaluated & condition & ~active
    for c in np.flatnonzero(raise_).tolist() if raise_.any() else ():
        counter, expected, observed, text = reason(c)
        since = int(since_s[c])
        work.active[c, kind] = True
        work.active_since_s[c, kind] = since
        work.calm_run[c, kind] = 0
        work.out.append(
            KpiTransition(
                kind=KINDS[kind],
                cell_id=int(context.cell_id[c]),
                raised=True,
                at_s=t,
                since_s=since,
                counter=counter,
                expected=expected,
                observed=observed,
                reason=text,
            )
        )
    if not active.any():
        return
    still = evaluated & condition & active
    work.calm_run[still, kind] = 0
    calm = evaluated & ~condition & active
    work.calm_run[calm, kind] += 1
    _clear(work, kind, calm & (work.calm_run[:, kind] >= clear_after), t, context, "back to normal")


def _clear(work: _Work, kind: int, mask: BoolArray, t: int, context: CellContext, why: str) -> None:
    if not mask.any():
        return
    for c in np.flatnonzero(mask).tolist():
        work.active[c, kind] = False
        work.calm_run[c, kind] = 0
        work.out.append(
            KpiTransition(
                kind=KINDS[kind],
                cell_id=int(context.cell_id[c]),
                raised=False,
                at_s=t,
                since_s=int(work.active_since_s[c, kind]),
                counter="",
                expected=None,
                observed=None,
                reason=why,
            )
        )


# --- counter faults --------------------------------------------------------------------------


def _out_of_range(
    work: _Work,
    t: int,
    values: FloatArray,
    judged: BoolArray,
    context: CellContext,
    config: KpiDetectorConfig,
) -> BoolArray:
    """Counters that contradict each other or the cell's size; return the consistent cells."""
    used, avail, tot = values[:, PRB_USED], values[:, PRB_AVAIL], values[:, PRB_TOT_PCT]
    volume, offered = values[:, VOLUME], values[:, OFFERED]
    power, energy = values[:, POWER], values[:, ENERGY]
    with np.errstate(invalid="ignore", divide="ignore"):
        data_pct = np.where(avail > 0, 100.0 * used / avail, np.nan)
        expected_kwh = power * context.interval_s / JOULES_PER_KWH
        rules = np.stack(
            [
                used > avail + np.maximum(config.tolerance_prb, 1e-3 * avail),
                avail > context.num_prb + config.tolerance_prb,
                tot < data_pct - config.tolerance_pct,
                volume > offered * (1.0 + config.tolerance_volume) + 1.0,
                np.abs(energy - expected_kwh)
                > config.tolerance_energy * np.maximum(expected_kwh, energy) + 1e-4,
            ]
        )  # [5, C], NaN comparisons are False
    bad = np.asarray(rules.any(axis=0), dtype=bool)

    def reason(c: int) -> tuple[str, float | None, float | None, str]:
        rule = int(np.argmax(rules[:, c]))
        if rule == 0:
            return (
                counter_name("prb_used_dl"),
                float(avail[c]),
                float(used[c]),
                f"RRU.PrbUsedDl {used[c]:.1f} PRB exceeds RRU.PrbAvailDl {avail[c]:.1f} PRB",
            )
        if rule == 1:
            n = float(context.num_prb[c])
            return (
                counter_name("prb_avail_dl"),
                n,
                float(avail[c]),
                f"RRU.PrbAvailDl {avail[c]:.1f} PRB exceeds the cell's {n:.0f} PRBs",
            )
        if rule == 2:
            return (
                counter_name("prb_tot_dl_pct"),
                float(data_pct[c]),
                float(tot[c]),
                f"RRU.PrbTotDl {tot[c]:.1f} % is below the data PRB usage "
                f"(RRU.PrbUsedDl / RRU.PrbAvailDl = {data_pct[c]:.1f} %)",
            )
        if rule == 3:
            return (
                counter_name("dl_volume_mbit"),
                float(offered[c]),
                float(volume[c]),
                f"DRB.PdcpSduVolumeDL {volume[c]:.1f} Mbit exceeds the offered volume "
                f"VS.OfferedVolumeDl {offered[c]:.1f} Mbit",
            )
        return (
            counter_name("pee_energy_kwh"),
            float(expected_kwh[c]),
            float(energy[c]),
            f"PEE.Energy {energy[c]:.4f} kWh, but PEE.AvgPower {power[c]:.0f} W over "
            f"{context.interval_s} s is {expected_kwh[c]:.4f} kWh",
        )

    since = np.where(work.active[:, OUT_OF_RANGE], work.active_since_s[:, OUT_OF_RANGE], t)
    _transitions(work, OUT_OF_RANGE, judged, bad, since, t, context, reason, config.clear_intervals)
    return ~bad


def _frozen(
    work: _Work,
    t: int,
    values: FloatArray,
    judged: BoolArray,
    context: CellContext,
    config: KpiDetectorConfig,
) -> None:
    """Every reported counter equal to the previous sample while the cell carries traffic."""
    now_ok, last_ok = np.isfinite(values), np.isfinite(work.last_values)
    both = now_ok & last_ok
    # [C] the same counters reported as last time, each with the same value
    same = (
        (now_ok == last_ok).all(axis=1)
        & both.any(axis=1)
        & np.where(both, values == work.last_values, True).all(axis=1)
    )
    moving = (values[:, VOLUME] > 0) | (values[:, PRB_USED] > 0) | (values[:, THP] > 0)
    consecutive = work.last_s == t - context.interval_s
    repeat = same & moving & consecutive
    work.frozen_run[judged] = np.where(repeat[judged], work.frozen_run[judged] + 1, 0)
    frozen = work.frozen_run >= config.frozen_intervals - 1
    since = t - work.frozen_run * context.interval_s

    def reason(c: int) -> tuple[str, float | None, float | None, str]:
        n = int(np.isfinite(values[c]).sum())
        col = VOLUME if np.isfinite(values[c, VOLUME]) else int(np.flatnonzero(now_ok[c])[0])
        column = COUNTER_COLUMNS[col]
        unit = COUNTER_BY_COLUMN[column].unit
        return (
            counter_name(column),
            None,
            float(values[c, col]),
            f"all {n} reported counters repeat the same values for {work.frozen_run[c] + 1} "
            f"intervals ({counter_name(column)} = {values[c, col]:g} {unit} each time)",
        )

    _transitions(work, FROZEN, judged, frozen, since, t, context, reason, config.clear_intervals)


def _missing(
    work: _Work,
    t: int,
    asleep: BoolArray,
    context: CellContext,
    config: KpiDetectorConfig,
) -> None:
    """Cells that reported before but not in the network's last ``missing_intervals``."""
    if work.newest_s < 0 or t < work.newest_s:
        return
    seen = work.last_s >= 0
    gap = work.newest_s - work.last_s
    missing = seen & (gap >= config.missing_intervals * context.interval_s)
    evaluated = seen & ~asleep
    since = work.last_s + context.interval_s

    def reason(c: int) -> tuple[str, float | None, float | None, str]:
        periods = int(gap[c] // context.interval_s)
        return (
            "all counters",
            float(periods),
            0.0,
            f"no counters for {periods} intervals the rest of the network reported",
        )

    _transitions(work, MISSING, evaluated, missing, since, t, context, reason, 1)


# --- sleeping cell ---------------------------------------------------------------------------


def _sleeping(
    work: _Work,
    t: int,
    values: FloatArray,
    present: BoolArray,
    up: BoolArray,
    nb_asleep: BoolArray,
    context: CellContext,
    edge_row: IntArray,
    config: KpiDetectorConfig,
) -> None:
    """Up but carrying nothing while the neighbours carry the users it usually holds.

    The usual share is learned only while every neighbour is awake: a neighbour put to sleep
    sends its users to the cells around it, which would teach them a share they do not hold
    when it is awake (a cell judged beside a sleeping neighbour is expected to hold its
    all-awake share, an underestimate, so that errs towards no alert).
    """
    h = habit_bin(t, config)
    rrc = values[:, RRC]
    rrc_known = present & np.isfinite(rrc)
    # [E] each neighbour's connections (0 when it did not report) -> [C] sums and counts
    nb = context.neighbour_idx
    nb_rrc = np.bincount(
        edge_row, weights=np.where(rrc_known, rrc, 0.0)[nb], minlength=context.num_cells
    )
    nb_count = np.bincount(
        edge_row, weights=rrc_known[nb].astype(np.float64), minlength=context.num_cells
    )
    judge = up & np.isfinite(rrc) & (nb_count >= 1)
    volume = values[:, VOLUME]
    silent = judge & (rrc < 0.5) & ~(volume >= config.silent_volume_mbit)
    share = work.share_mean[:, h]
    ready = work.share_n[:, h] >= config.bin_warmup
    expected = share * nb_rrc  # [C] UEs the cell would hold now
    counts = silent & ready & (expected >= config.sleeping_min_lambda)
    work.silent_evidence[counts] += expected[counts]
    work.silent_run[silent & ready] += 1
    reset = judge & ~silent
    work.silent_evidence[reset] = 0.0
    work.silent_run[reset] = 0
    condition = (
        (work.silent_evidence >= config.sleeping_evidence)
        & (work.silent_run >= config.sleeping_min_intervals)
    ) | (work.active[:, SLEEPING] & silent)
    since = t - (work.silent_run - 1) * context.interval_s
    total = rrc + nb_rrc
    learn = (
        judge
        & ~silent
        & (total >= 1.0)
        & ~work.active[:, SLEEPING]
        & (work.silent_run == 0)
        & ~nb_asleep
    )
    shares = work.share_mean[:, h].copy()
    counts_h = work.share_n[:, h].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(total > 0, rrc / total, 0.0)
    dummy = np.zeros_like(shares)
    _ew_update(shares, dummy, counts_h, x, learn, config.bin_alpha)
    work.share_mean[:, h] = shares
    work.share_n[:, h] = counts_h

    def reason(c: int) -> tuple[str, float | None, float | None, str]:
        return (
            counter_name("rrc_conn_mean"),
            float(expected[c]),
            float(rrc[c]),
            f"RRC.ConnMean {rrc[c]:.0f} UE and no DL volume for {work.silent_run[c]} intervals "
            f"while its {int(nb_count[c])} neighbours carry {nb_rrc[c]:.0f} UE; expected about "
            f"{expected[c]:.1f} UE (its usual {share[c]:.0%} of the area "
            f"{habit_words(t, config)})",
        )

    _transitions(
        work, SLEEPING, judge & ready, condition, since, t, context, reason, config.clear_intervals
    )


# --- throughput collapse and interference rise -----------------------------------------------


@dataclass(frozen=True, eq=False)
class _RadioView:
    """One interval's radio counters in log form beside the bin's baselines, arrays ``[C]``."""

    h: int  # habit bin
    when: str  # the habit bin in words
    thp: FloatArray
    rrc: FloatArray
    util: FloatArray  # the cell's PRB utilisation (NaN: not reported)
    headroom: FloatArray  # 1 - utilisation the throughput habit is scaled by (1: not load-aware)
    eff: FloatArray  # Mbit per PRB-second
    x_load: FloatArray
    x_thp: FloatArray
    x_eff: FloatArray
    nb_util: FloatArray  # the neighbours' mean PRB utilisation (NaN: none reported)
    x_nb: FloatArray  # its log (with ``NB_UTILISATION_FLOOR``)
    mean: FloatArray  # [NUM_STATS, C]
    var: FloatArray  # [NUM_STATS, C]
    n: IntArray  # [NUM_STATS, C]
    sd: FloatArray  # [NUM_STATS, C]
    ready: BoolArray  # [NUM_STATS, C]
    slope: FloatArray  # d log efficiency / d log neighbour utilisation, <= 0
    busy: BoolArray  # up, with at least one UE
    measurable: BoolArray  # efficiency defined (PRBs used, volume served)
    load_known: BoolArray
    load_same: BoolArray  # RRC.ConnMean within tolerance of its usual value
    congested: BoolArray  # PRB utilisation at or above ``congestion_utilisation``


def _radio(
    work: _Work,
    t: int,
    values: FloatArray,
    up: BoolArray,
    context: CellContext,
    edge_row: IntArray,
    config: KpiDetectorConfig,
) -> None:
    """UE throughput and spectral efficiency against their habit bin's baselines."""
    h = habit_bin(t, config)
    thp, rrc = values[:, THP], values[:, RRC]
    volume, used = values[:, VOLUME], values[:, PRB_USED]
    with np.errstate(invalid="ignore", divide="ignore"):
        x_load = np.log1p(rrc)
        eff = volume / (used * context.interval_s)
        x_eff = np.log(eff)
        util = used / values[:, PRB_AVAIL]
        headroom = _headroom(util, config)
        x_thp = np.log(thp + 0.01) - np.log(headroom)
    # [C] the neighbours' mean PRB utilisation, over those that reported it
    nb = context.neighbour_idx
    util_known = np.isfinite(util)
    nb_sum = np.bincount(
        edge_row, weights=np.where(util_known, util, 0.0)[nb], minlength=context.num_cells
    )
    nb_count = np.bincount(
        edge_row, weights=util_known[nb].astype(np.float64), minlength=context.num_cells
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        nb_util = np.where(nb_count > 0, nb_sum / nb_count, np.nan)
    x_nb = np.log(nb_util + NB_UTILISATION_FLOOR)
    slope = np.clip(work.nb_sxy / (work.nb_sxx + config.nb_slope_ridge), config.nb_slope_min, 0.0)
    mean = work.stat_mean[:, :, h]  # [NUM_STATS, C] copies (fancy index)
    var = work.stat_var[:, :, h]
    n = work.stat_n[:, :, h]
    ready = n >= config.bin_warmup
    busy = up & np.isfinite(rrc) & (rrc >= 1.0)
    load_known = busy & ready[STAT_LOAD]
    view = _RadioView(
        h=h, when=habit_words(t, config), thp=thp, rrc=rrc, util=util, headroom=headroom,
        eff=eff, x_load=x_load,
        x_thp=x_thp, x_eff=x_eff, nb_util=nb_util, x_nb=x_nb, slope=slope, mean=mean,
        var=var, n=n,
        sd=np.maximum(np.sqrt(var), config.min_sd), ready=ready, busy=busy,
        measurable=busy & np.isfinite(x_eff) & (used >= config.min_prb_used) & (volume > 0),
        load_known=load_known,
        congested=~(used < config.congestion_utilisation * values[:, PRB_AVAIL]),
        load_same=load_known
        & (np.abs(x_load - mean[STAT_LOAD]) <= np.log1p(config.load_tolerance)),
    )  # fmt: skip
    bad_thp = _collapse(work, t, view, context, config)
    _interference(work, t, view, context, config)
    _learn(work, view, bad_thp, config)


def _headroom(util: FloatArray, config: KpiDetectorConfig) -> FloatArray:
    """Return the PRB headroom ``1 - utilisation`` a UE's throughput scales with, ``[C]``.

    Processor sharing (Bonald & Proutiere 2003): each active UE gets the cell's rate for it
    times ``1 - rho``. Floored at ``1 - congestion_utilisation`` (a congested cell's throughput
    is not judged); 1 where the utilisation is unknown or the expectation is not load-aware.
    """
    if not config.collapse_load_aware:
        return np.ones_like(util)
    floor = 1.0 - config.congestion_utilisation
    clipped = np.clip(1.0 - np.nan_to_num(util, nan=0.0), floor, 1.0)
    return np.asarray(clipped, dtype=np.float64)


def _collapse(
    work: _Work, t: int, v: _RadioView, context: CellContext, config: KpiDetectorConfig
) -> BoolArray:
    """Throughput far below its usual value at unchanged load; return this interval's drops."""
    judge = v.load_same & np.isfinite(v.thp) & v.ready[STAT_THP] & ~v.congested
    drop = v.mean[STAT_THP] - v.x_thp
    threshold = np.maximum(-np.log(config.collapse_ratio), config.collapse_sigmas * v.sd[STAT_THP])
    bad: BoolArray = judge & (drop >= threshold)
    work.collapse_run[judge] = np.where(bad[judge], work.collapse_run[judge] + 1, 0)
    # hysteresis: a raised collapse lasts while throughput stays below half-way to normal
    still = work.active[:, COLLAPSE] & (drop >= -0.5 * np.log(config.collapse_ratio))
    collapse = (work.collapse_run >= config.collapse_intervals) | still
    since = t - (work.collapse_run - 1) * context.interval_s

    def reason(c: int) -> tuple[str, float | None, float | None, str]:
        usual = float(np.exp(v.mean[STAT_THP, c]))
        usual_rrc = float(np.expm1(v.mean[STAT_LOAD, c]))
        load = f"at unchanged load (RRC.ConnMean {v.rrc[c]:.0f} UE, usually {usual_rrc:.0f})"
        if not config.collapse_load_aware:
            return (
                counter_name("ue_thp_dl_mbps"), usual, float(v.thp[c]),
                f"DRB.UEThpDl {v.thp[c]:.1f} Mbit/s for {work.collapse_run[c]} intervals, "
                f"usually {usual:.1f} Mbit/s {v.when}, {load}",
            )  # fmt: skip
        want = usual * float(v.headroom[c])
        return (
            counter_name("ue_thp_dl_mbps"), want, float(v.thp[c]),
            f"DRB.UEThpDl {v.thp[c]:.1f} Mbit/s for {work.collapse_run[c]} intervals, "
            f"{want:.1f} Mbit/s expected at its PRB utilisation of {v.util[c]:.0%} (usually "
            f"{usual:.1f} Mbit/s x (1 - utilisation) {v.when}), {load}",
        )  # fmt: skip

    _transitions(work, COLLAPSE, judge, collapse, since, t, context, reason, config.clear_intervals)
    return bad


def _interference(
    work: _Work, t: int, v: _RadioView, context: CellContext, config: KpiDetectorConfig
) -> None:
    """One-sided CUSUM of the log efficiency drop beyond a slack, at unchanged load.

    The drop is taken from the load-aware expectation (``_expected_eff``); with
    ``interference_corroborate`` the CUSUM adds the smaller of it and the UE throughput's
    drop below its habit at the cell's load (``_corroborated``).
    """
    judge = v.load_same & v.measurable & v.ready[STAT_EFF]
    expected = _expected_eff(v)
    drop = expected - v.x_eff
    thp_drop = v.mean[STAT_THP] - v.x_thp
    evidence = _corroborated(drop, thp_drop, v, config)
    slack = np.maximum(config.interference_slack, config.interference_slack_sigmas * v.sd[STAT_EFF])
    grown = np.maximum(0.0, work.cusum + evidence - slack)
    starts = judge & (work.cusum == 0) & (grown > 0)
    work.cusum_since_s[starts] = t
    work.cusum[judge] = grown[judge]
    # a raised rise lasts while the efficiency stays below its usual value by the slack
    active = work.active[:, INTERFERENCE].copy()
    rising = np.where(active, drop >= slack, work.cusum >= config.interference_threshold)

    def reason(c: int) -> tuple[str, float | None, float | None, str]:
        usual = float(np.exp(v.mean[STAT_EFF, c]))
        want = float(np.exp(expected[c]))
        eff = float(v.eff[c])
        neighbours = ""
        if want != usual:
            nb_usual = float(np.exp(v.mean[STAT_NB, c])) - NB_UTILISATION_FLOOR
            neighbours = (
                f"; {want:.3f} expected with the neighbours' PRB utilisation at "
                f"{v.nb_util[c]:.0%} (usually {nb_usual:.0%})"
            )
        return (
            "DRB.PdcpSduVolumeDL / RRU.PrbUsedDl", want, eff,
            f"spectral efficiency DRB.PdcpSduVolumeDL / RRU.PrbUsedDl {eff:.3f} Mbit per "
            f"PRB-second, usually {usual:.3f} {v.when}{neighbours} ({1.0 - eff / want:.0%} "
            f"lower: {want / eff - 1.0:.0%} more PRBs per bit){_thp_words(c, thp_drop, v, config)}"
            f" at unchanged load (RRC.ConnMean {v.rrc[c]:.0f} UE)",
        )  # fmt: skip

    _transitions(
        work, INTERFERENCE, judge, rising, work.cusum_since_s, t, context, reason,
        config.clear_intervals,
    )  # fmt: skip
    work.cusum[active & ~work.active[:, INTERFERENCE]] = 0.0  # cleared: start afresh


def _corroborated(
    eff_drop: FloatArray, thp_drop: FloatArray, v: _RadioView, config: KpiDetectorConfig
) -> FloatArray:
    """Return this interval's interference evidence, ``[C]``.

    The log efficiency drop, or with ``interference_corroborate`` the smaller of it and the
    UE throughput's log drop (where the throughput habit is ready and the throughput known).
    """
    if not config.interference_corroborate:
        return eff_drop
    known = v.ready[STAT_THP] & np.isfinite(thp_drop)
    return np.asarray(np.where(known, np.minimum(eff_drop, thp_drop), eff_drop), dtype=np.float64)


def _thp_words(c: int, thp_drop: FloatArray, v: _RadioView, config: KpiDetectorConfig) -> str:
    """Return ``, and DRB.UEThpDl … below …`` for an interference reason (corroborated only)."""
    if not (config.interference_corroborate and v.ready[STAT_THP, c]) or not np.isfinite(
        thp_drop[c]
    ):
        return ""
    want = float(np.exp(v.mean[STAT_THP, c]) * v.headroom[c])
    return (
        f", and DRB.UEThpDl {v.thp[c]:.1f} Mbit/s, {1.0 - float(np.exp(-thp_drop[c])):.0%} "
        f"below the {want:.1f} Mbit/s expected at its PRB utilisation"
    )


def _nb_known(v: _RadioView) -> BoolArray:
    """Cells whose neighbours' utilisation is known now and has a learned habit."""
    return np.asarray(np.isfinite(v.x_nb) & v.ready[STAT_NB], dtype=bool)


def _expected_eff(v: _RadioView) -> FloatArray:
    """Log efficiency the habit expects at the neighbours' load now, ``[C]``.

    The habit bin's mean, moved by the cell's slope times how far the neighbours' log PRB
    utilisation is from its own habit (Siomina & Yuan 2012: a neighbour's interference
    scales with its PRB load).
    """
    shift = np.where(_nb_known(v), v.slope * (v.x_nb - v.mean[STAT_NB]), 0.0)
    return np.asarray(v.mean[STAT_EFF] + shift, dtype=np.float64)


def _learn_slope(work: _Work, v: _RadioView, mask: BoolArray, config: KpiDetectorConfig) -> None:
    """Teach each cell's slope of log efficiency on its neighbours' log utilisation.

    Both are taken as residuals from their habit bin's mean (so the habit's own daily and
    weekly shape does not enter), accumulated as exponentially weighted moments.
    """
    idx = np.flatnonzero(mask & _nb_known(v) & v.ready[STAT_EFF])
    if idx.size == 0:
        return
    a = np.maximum(config.nb_slope_alpha, 1.0 / (work.nb_n[idx] + 1.0))
    rx = v.x_nb[idx] - v.mean[STAT_NB, idx]
    ry = v.x_eff[idx] - v.mean[STAT_EFF, idx]
    work.nb_sxy[idx] += a * (rx * ry - work.nb_sxy[idx])
    work.nb_sxx[idx] += a * (rx * rx - work.nb_sxx[idx])
    work.nb_n[idx] += 1


def _learn(work: _Work, v: _RadioView, bad_thp: BoolArray, config: KpiDetectorConfig) -> None:
    """Teach the habit bin's baselines from normal intervals only."""
    calm = ~work.active[:, COLLAPSE] & ~work.active[:, INTERFERENCE]
    learn_load = v.busy & calm & (work.collapse_run == 0)
    learn_thp = learn_load & np.isfinite(v.x_thp) & (v.load_same | ~v.load_known) & ~bad_thp
    if config.interference_corroborate:  # a suspected interference rise teaches neither habit
        learn_thp &= work.cusum == 0
    learn_eff = learn_thp & v.measurable & (work.cusum == 0)
    _learn_slope(work, v, learn_eff, config)
    for stat, x, mask in (
        (STAT_LOAD, v.x_load, learn_load),
        (STAT_THP, v.x_thp, learn_thp),
        (STAT_EFF, v.x_eff, learn_eff),
        (STAT_NB, v.x_nb, learn_load & np.isfinite(v.x_nb)),
    ):
        m, var, k = v.mean[stat].copy(), v.var[stat].copy(), v.n[stat].copy()
        _ew_update(m, var, k, x, mask, config.bin_alpha)
        work.stat_mean[stat, :, v.h] = m
        work.stat_var[stat, :, v.h] = var
        work.stat_n[stat, :, v.h] = k
