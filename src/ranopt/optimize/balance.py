"""Mobility load balancing: per-cell CIO offsets that unload the busiest cells.

Build -> solve -> assign -> verify, per interval of a horizon. Association in the twin is
"strongest RSRP + CIO among suitable active cells" (TS 38.331 A3 offset / cell individual
offset); each interval's CIO may move at most ``max_step_db`` from the previous one, within
``[cio_min_db, cio_max_db]``. Two solvers:

- ``local``: a steepest-descent local search on 1 dB moves, every candidate scored in the twin
  (full load coupling): first the highest PRB demand, then the 5th-percentile UE throughput
  with the highest load held within a slack;
- ``exact``: a MILP of the association decision (HiGHS) with interference frozen at reference
  loads: integer CIO per cell, binary UE-bin assignment, big-M rows that make a bin's cell the
  strongest RSRP + CIO among its suitable cells; it minimises the highest PRB load and is
  re-linearised at the loads its own plan produces in the twin.

Every figure is measured in the twin; a move or a plan that leaves a UE without service it had
at CIO = 0 (coverage) is rejected.
"""

from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.optimize.milp import MilpBuilder, solve_milp
from ranopt.optimize.plan import Action, Plan, SolveInfo, SolveStatus
from ranopt.twin.link import SINR_MIN_DB
from ranopt.twin.mimo import cell_rates_mbps
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

BalanceSolver = Literal["local", "exact"]
BALANCE_SOLVERS: tuple[BalanceSolver, ...] = ("local", "exact")


@dataclass(frozen=True)
class BalanceConfig:
    """CIO limits and solver settings of load balancing."""

    cio_min_db: int = -6
    cio_max_db: int = 6
    max_step_db: int = 2  # per cell per interval
    max_moves: int = 200  # local search: accepted 1 dB moves per interval and phase
    hot_cells: int = 3  # local search: most loaded cells whose neighbourhood is searched
    leximax_depth: int = 3  # local search: highest loads compared in phase 1
    neighbours_per_hot_cell: int = 8  # local search: strongest other cells of their UEs
    max_load_slack: float = 0.0  # phase 2 may raise the highest load by this (relative)
    milp_time_limit_s: float = 60.0  # exact: HiGHS time limit per interval and round
    milp_rel_gap: float = 1e-4
    milp_rounds: int = 2  # exact: re-linearise interference at the plan's own twin loads

    def __post_init__(self) -> None:
        """Reject limits that leave no CIO to choose."""
        if not self.cio_min_db <= 0 <= self.cio_max_db:
            msg = (
                f"BalanceConfig needs cio_min_db <= 0 <= cio_max_db, got "
                f"{self.cio_min_db}, {self.cio_max_db}"
            )
            raise ValidationError(msg)
        for name in ("max_step_db", "max_moves", "hot_cells", "leximax_depth", "milp_rounds"):
            if getattr(self, name) < 1:
                msg = f"BalanceConfig.{name} must be >= 1, got {getattr(self, name)}"
                raise ValidationError(msg)


@dataclass(frozen=True)
class BalanceKpis:
    """One interval of a network state as the twin measures it."""

    max_prb_load: float  # highest used PRB share of an active cell, 0-1 (RRU.PrbUsedDl)
    max_prb_demand: float  # highest PRB demand, > 1 when a cell is overloaded
    ue_thp_p5_mbps: float
    served_ratio: float
    ues_without_service: int  # UEs with demand and no serving cell or SINR below SINR_MIN


def servable(snap: Snapshot) -> BoolArray:
    """UEs with a serving cell and an SINR the link model can use, ``[num_ues]``."""
    return snap.covered & (snap.sinr_db >= SINR_MIN_DB)


def measure(snap: Snapshot) -> BalanceKpis:
    """Return the load-balancing figures of one snapshot."""
    load = np.where(snap.active, snap.prb_load, 0.0)
    demand_load = np.where(snap.active, snap.demand_load, 0.0)
    return BalanceKpis(
        max_prb_load=float(load.max()),
        max_prb_demand=float(demand_load.max()),
        ue_thp_p5_mbps=snap.ue_thp_percentile_mbps(5),
        served_ratio=snap.served_ratio,
        ues_without_service=int(((snap.demand_mbps > 0) & ~servable(snap)).sum()),
    )


def lost_coverage(plan: Snapshot, reference: Snapshot) -> int:
    """UEs served in ``reference`` that lose service in ``plan``."""
    return int((servable(reference) & ~servable(plan)).sum())


def step_bounds(previous_cio_db: FloatArray, config: BalanceConfig) -> tuple[IntArray, IntArray]:
    """Integer CIO bounds ``[num_cells]`` of the next interval: range and step limits."""
    prev = np.rint(previous_cio_db).astype(np.int64)
    lower = np.maximum(config.cio_min_db, prev - config.max_step_db)
    upper = np.minimum(config.cio_max_db, prev + config.max_step_db)
    return lower, upper


# ---------------------------------------------------------------------------------------------
# local search (twin-driven)


def _neighbour_cells(
    twin: Twin, snap: Snapshot, cell: int, count: int, window_db: float
) -> set[int]:
    """Cells most often within ``window_db`` of the serving RSRP of ``cell``'s UEs."""
    link = twin.link
    ues = np.flatnonzero(snap.serving_cell == cell)
    if ues.size == 0:
        return set()
    # [n, K] entries of those UEs that a CIO change of window_db could make their server
    # ranking (priority tier + RSRP) is what a CIO competes with, within one tier
    rank = link.rank_db[ues]
    serving_rank = np.max(np.where(link.cell_idx[ues] == cell, rank, -np.inf), axis=1)
    near = (rank >= serving_rank[:, None] - window_db) & (link.cell_idx[ues] != cell)
    near &= link.suitable(twin.scenario.rsrp_min_dbm)[ues]
    counts = np.bincount(link.cell_idx[ues][near], minlength=twin.num_cells)
    order = np.argsort(-counts, kind="stable")[:count]
    return {int(c) for c in order if counts[c] > 0}


@dataclass
class _Search:
    """State of one interval's local search."""

    twin: Twin
    demand_mbps: FloatArray
    active: BoolArray
    reference: Snapshot  # CIO = 0 on the same demand: coverage reference
    evaluations: int = 0

    def evaluate(self, cio_db: FloatArray, warm: Snapshot) -> Snapshot:
        self.evaluations += 1
        state = CellState(active=self.active, cio_db=cio_db)
        return evaluate_snapshot(self.twin, state, self.demand_mbps, initial_load=warm.prb_load)


def _key(
    snap: Snapshot, reference: Snapshot, load_cap: float | None, depth: int
) -> tuple[float, ...]:
    """Lexicographic score, lower is better; coverage loss or a broken cap is infinite.

    Phase 1 (no cap) compares the ``depth`` highest PRB demands in decreasing order (leximax:
    progress on the second-busiest cell counts while the busiest is stuck), then the
    5th-percentile throughput; phase 2 the throughput, then the highest PRB demand.
    """
    if lost_coverage(snap, reference):
        return (np.inf,)
    p5 = snap.ue_thp_percentile_mbps(5)
    demand_load = np.where(snap.active, snap.demand_load, 0.0)
    top = np.sort(demand_load)[::-1][:depth]
    if load_cap is None:
        return (*top.tolist(), -p5)
    if top[0] > load_cap:
        return (np.inf,)
    return (-p5, float(top[0]))


def _candidate_cells(
    search: _Search, snap: Snapshot, config: BalanceConfig, phase: int
) -> set[int]:
    twin = search.twin
    demand_load = np.where(search.active, snap.demand_load, -np.inf)
    window = float(config.cio_max_db - config.cio_min_db)
    cells: set[int] = set()
    for hot in np.argsort(-demand_load)[: config.hot_cells]:
        cells.add(int(hot))
        cells |= _neighbour_cells(twin, snap, int(hot), config.neighbours_per_hot_cell, window)
    if phase == 2:
        # the serving cells of the slowest 5 % of UEs with demand, and their neighbours
        thp = np.where(snap.demand_mbps > 0, snap.ue_thp_mbps, np.inf)
        worst = np.argsort(thp)[: max(1, int(0.05 * np.isfinite(thp).sum()))]
        for cell in np.unique(snap.serving_cell[worst]):
            if cell >= 0:
                cells.add(int(cell))
    return {c for c in cells if search.active[c]}


def _fit_bounds(cio_db: FloatArray, lower: IntArray, upper: IntArray) -> FloatArray | None:
    """Shift all offsets by one integer into their bounds, or ``None`` if no shift fits.

    Association depends only on differences of RSRP + CIO, so adding the same offset to every
    cell changes no UE's serving cell: the shifted vector is the same decision.
    """
    shift_min = float(np.max(lower - cio_db))
    shift_max = float(np.min(upper - cio_db))
    if shift_min > shift_max:
        return None
    return cio_db + min(max(0.0, shift_min), shift_max)


def _fewest_changes(
    cio_db: FloatArray, previous_cio_db: FloatArray, lower: IntArray, upper: IntArray
) -> FloatArray:
    """Shift ``cio_db`` globally (same association) so that the fewest cells change."""
    shift_min = int(np.max(lower - cio_db))
    shift_max = int(np.min(upper - cio_db))
    shifts = range(shift_min, shift_max + 1)
    best = min(shifts, key=lambda s: (int((cio_db + s != previous_cio_db).sum()), abs(s)))
    return cio_db + best


def _descend(
    search: _Search,
    cio_db: FloatArray,
    snap: Snapshot,
    lower: IntArray,
    upper: IntArray,
    config: BalanceConfig,
    load_cap: float | None,
) -> tuple[FloatArray, Snapshot, int]:
    """Steepest descent on small CIO moves; returns the CIO, its snapshot, moves made."""
    best_key = _key(snap, search.reference, load_cap, config.leximax_depth)
    phase = 1 if load_cap is None else 2
    moves = 0
    for _ in range(config.max_moves):
        best: tuple[tuple[float, ...], FloatArray, Snapshot] | None = None
        cells = sorted(_candidate_cells(search, snap, config, phase))
        hot = int(np.argmax(np.where(search.active, snap.demand_load, -np.inf)))
        # single-cell moves of 1 and 2 dB, and the busiest cell 1 dB down with another cell
        # 1 dB up or down
        moves_: list[dict[int, float]] = [
            {cell: delta} for cell in cells for delta in (-2.0, -1.0, 1.0, 2.0)
        ]
        moves_ += [{hot: -1.0, cell: d} for cell in cells if cell != hot for d in (-1.0, 1.0)]
        for move in moves_:
            trial = cio_db.copy()
            for cell, delta in move.items():
                trial[cell] += delta
            fitted = _fit_bounds(trial, lower, upper)
            if fitted is None:
                continue
            trial = fitted
            trial_snap = search.evaluate(trial, snap)
            key = _key(trial_snap, search.reference, load_cap, config.leximax_depth)
            if key < best_key and (best is None or key < best[0]):
                best = (key, trial, trial_snap)
        if best is None:
            break
        best_key, cio_db, snap = best
        moves += 1
    return cio_db, snap, moves


def local_search_interval(
    twin: Twin,
    demand_mbps: FloatArray,
    active: BoolArray,
    previous_cio_db: FloatArray,
    config: BalanceConfig,
    reference: Snapshot | None = None,
) -> tuple[FloatArray, SolveInfo]:
    """CIO ``[num_cells]`` of one interval by twin-driven local search, and the solver report.

    Starts from the previous interval's CIO (clipped to this interval's bounds); phase 1 lowers
    the highest PRB demand, phase 2 raises the 5th-percentile UE throughput with the highest
    PRB demand kept within ``max_load_slack`` of phase 1's.
    """
    ref = reference or evaluate_snapshot(
        twin, CellState(active=active, cio_db=np.zeros(twin.num_cells)), demand_mbps
    )
    search = _Search(twin, demand_mbps, active, ref)
    lower, upper = step_bounds(previous_cio_db, config)
    cio = np.clip(np.rint(previous_cio_db), lower, upper).astype(np.float64)
    snap = search.evaluate(cio, ref)
    if lost_coverage(snap, ref):  # the previous offsets no longer fit this demand
        cio = np.clip(0.0, lower, upper).astype(np.float64)
        snap = search.evaluate(cio, ref)
    cio, snap, moves_1 = _descend(search, cio, snap, lower, upper, config, None)
    cap = measure(snap).max_prb_demand * (1.0 + config.max_load_slack)
    cio, snap, moves_2 = _descend(search, cio, snap, lower, upper, config, cap)
    cio = _fewest_changes(cio, previous_cio_db, lower, upper)
    kpis = measure(snap)
    return cio, SolveInfo(
        status=SolveStatus.FEASIBLE,
        objective=kpis.max_prb_demand,
        iterations=moves_1 + moves_2,
        detail={"twin_evaluations": search.evaluations, "moves_phase1": moves_1},
    )


# ---------------------------------------------------------------------------------------------
# exact MILP of the association decision


@dataclass(frozen=True, eq=False)
class AssociationBins:
    """UEs that pick the same cell under every integer CIO vector, aggregated.

    With integer offsets, a UE's choice among its suitable cells depends only on the integer
    parts of its RSRP differences and the order of their fractional parts, so UEs sharing the
    cells, those integer parts and that order behave identically.
    """

    cells: tuple[IntArray, ...]  # per bin: suitable cells that can ever serve it or outrank one
    rsrp_dbm: tuple[FloatArray, ...]  # per bin: a representative UE's ranking (RSRP + tier)
    candidate: tuple[BoolArray, ...]  # per bin: which of them can serve it within the bounds
    cost: tuple[FloatArray, ...]  # per bin: summed PRB share on each cell (frozen interference)

    @property
    def num_bins(self) -> int:
        """Number of bins."""
        return len(self.cells)


def frozen_rates_mbps(twin: Twin, active: BoolArray, load: FloatArray) -> FloatArray:
    """Rate of each UE on each link-budget entry ``[num_ues, K]`` at frozen cell loads, Mbit/s."""
    link = twin.link
    carrier = twin.arrays.carrier[link.cell_idx]  # [U, K]
    # Siomina & Yuan 2012: I_uc = sum over co-channel cells j != c of rho_j P_uj
    contrib = np.where(active[link.cell_idx], load[link.cell_idx] * link.interference_w, 0.0)
    interference = np.zeros_like(contrib)
    for value in np.unique(carrier):
        same = carrier == value
        total = np.where(same, contrib, 0.0).sum(axis=1, keepdims=True)
        interference = np.where(same, total - contrib, interference)
    sinr = link.signal_w / (interference + twin.noise_w[link.cell_idx])
    # the twin's link abstraction (TR 36.942 Annex A.2 per layer, MIMO layers and pairing)
    rate, _ = cell_rates_mbps(twin.arrays, link.cell_idx, sinr, 1.0, load[link.cell_idx])
    return rate


def association_bins(
    twin: Twin,
    demand_mbps: FloatArray,
    active: BoolArray,
    lower: IntArray,
    upper: IntArray,
    reference_load: FloatArray,
    must_serve: BoolArray,
) -> tuple[AssociationBins, FloatArray]:
    """Aggregate UEs into association bins; return them and the load of single-choice UEs ``[C]``.

    ``must_serve`` (``[num_ues]``) marks UEs served at CIO = 0: they may only go to cells whose
    SINR at the reference loads is above SINR_MIN.
    """
    link = twin.link
    rates = frozen_rates_mbps(twin, active, reference_load)  # [U, K]
    suitable = active[link.cell_idx] & link.suitable(twin.scenario.rsrp_min_dbm)
    # the twin's ranking (priority tier + RSRP); a CIO of +-6 dB never crosses a tier
    up = np.where(suitable, link.rank_db + upper[link.cell_idx], -np.inf)
    low = np.where(suitable, link.rank_db + lower[link.cell_idx], -np.inf)
    # a cell can serve the UE only if its best case beats every other cell's worst case
    best_low = np.max(low, axis=1, keepdims=True)
    second_low = (
        np.sort(low, axis=1)[:, -2:-1] if low.shape[1] > 1 else np.full_like(best_low, -np.inf)
    )
    other_worst = np.where(low == best_low, second_low, best_low)  # [U, K]
    candidate = suitable & (up >= other_worst)
    usable = candidate & ((rates > 0) | ~must_serve[:, None])
    # a cell takes part if it is a candidate or can outrank the weakest candidate
    weakest = np.min(np.where(candidate, low, np.inf), axis=1, keepdims=True)
    relevant = suitable & (up > weakest)
    const_load = np.zeros(twin.num_cells)
    groups: dict[tuple[object, ...], int] = {}
    cells_l: list[IntArray] = []
    rsrp_l: list[FloatArray] = []
    cand_l: list[BoolArray] = []
    cost_l: list[FloatArray] = []
    cost_all = np.divide(
        demand_mbps[:, None], rates, out=np.full(rates.shape, np.inf), where=rates > 0
    )
    for u in np.flatnonzero(demand_mbps > 0):
        cols = np.flatnonzero(relevant[u])
        if not candidate[u].any():
            continue  # no suitable cell: uncovered at any CIO
        cand_cols = np.flatnonzero(usable[u])
        if cand_cols.size == 0:
            msg = f"UE {u} has no usable candidate cell within the CIO bounds"
            raise ValidationError(msg)
        if cand_cols.size == 1 and np.flatnonzero(candidate[u]).size == 1:
            const_load[link.cell_idx[u, cand_cols[0]]] += cost_all[u, cand_cols[0]]
            continue
        order = cols[np.argsort(link.cell_idx[u, cols])]
        rsrp = link.rank_db[u, order]
        base = np.floor(rsrp - rsrp.max())
        frac_order = tuple(np.argsort(rsrp - np.floor(rsrp), kind="stable").tolist())
        key = (
            tuple(link.cell_idx[u, order].tolist()),
            tuple(base.astype(int).tolist()),
            frac_order,
            tuple(usable[u, order].tolist()),
        )
        b = groups.get(key)
        cost = np.where(usable[u, order], cost_all[u, order], 0.0)
        if b is None:
            groups[key] = len(cells_l)
            cells_l.append(link.cell_idx[u, order].astype(np.int64))
            rsrp_l.append(rsrp.astype(np.float64))
            cand_l.append(usable[u, order].copy())
            cost_l.append(cost)
        else:
            cost_l[b] = cost_l[b] + cost
    bins = AssociationBins(
        cells=tuple(cells_l), rsrp_dbm=tuple(rsrp_l), candidate=tuple(cand_l), cost=tuple(cost_l)
    )
    return bins, const_load


def _solve_association_milp(
    bins: AssociationBins,
    const_load: FloatArray,
    active: BoolArray,
    lower: IntArray,
    upper: IntArray,
    config: BalanceConfig,
) -> tuple[FloatArray | None, SolveInfo]:
    """Minimise the highest PRB load over integer CIO and bin assignment (HiGHS)."""
    inf = highspy.kHighsInf
    m = MilpBuilder()
    num_cells = active.shape[0]
    z = m.column(0.0, inf, 1.0, integer=False)
    # cio = pos - neg, |cio| costs a little: offsets that change nothing stay at 0
    cio = [m.column(float(lower[c]), float(upper[c]), 0.0, integer=True) for c in range(num_cells)]
    for c in range(num_cells):
        pos = m.column(0.0, inf, 1e-5, integer=False)
        neg = m.column(0.0, inf, 1e-5, integer=False)
        m.row([cio[c], pos, neg], [1.0, -1.0, 1.0], 0.0, 0.0)
    load_cols: dict[int, list[int]] = {}
    load_vals: dict[int, list[float]] = {}
    for cells, rsrp, cand, cost in zip(
        bins.cells, bins.rsrp_dbm, bins.candidate, bins.cost, strict=True
    ):
        xs = {j: m.column(0.0, 1.0, 0.0, integer=True) for j in np.flatnonzero(cand)}
        m.row(list(xs.values()), [1.0] * len(xs), 1.0, 1.0)
        for j, x in xs.items():
            c = int(cells[j])
            load_cols.setdefault(c, []).append(x)
            load_vals.setdefault(c, []).append(float(cost[j]))
            for k in range(cells.size):
                if k == j:
                    continue
                other = int(cells[k])
                gap = float(rsrp[k] - rsrp[j])  # cio_c - cio_other >= gap when x = 1
                slack = gap - float(lower[c]) + float(upper[other])
                if slack <= 0:
                    continue  # cannot bind
                # TS 38.331 A3 ranking: RSRP_c + CIO_c >= RSRP_o + CIO_o, big-M on x
                m.row([cio[c], cio[other], x], [1.0, -1.0, -slack], gap - slack, inf)
    for cell in np.flatnonzero(active):
        cols = load_cols.get(int(cell), [])
        vals = load_vals.get(int(cell), [])
        m.row([*cols, z], [*vals, -1.0], -inf, -float(const_load[cell]))
    solved = solve_milp(m, config.milp_time_limit_s, config.milp_rel_gap)
    result: FloatArray | None = None
    if solved.values is not None:
        result = np.rint(solved.values[cio]).astype(np.float64)
    return result, SolveInfo(
        status=solved.status,
        objective=solved.objective,
        bound=solved.bound,
        mip_gap=solved.mip_gap,
        iterations=solved.nodes,
        detail={"columns": len(m.col_lower), "rows": len(m.row_lower), "bins": bins.num_bins},
    )


def exact_interval(
    twin: Twin,
    demand_mbps: FloatArray,
    active: BoolArray,
    previous_cio_db: FloatArray,
    config: BalanceConfig,
    reference: Snapshot | None = None,
) -> tuple[FloatArray, SolveInfo]:
    """CIO ``[num_cells]`` of one interval from the association MILP, verified in the twin.

    Round 1 freezes interference at the CIO = 0 loads, later rounds at the loads of the previous
    round's plan in the twin; the round whose plan has the lowest highest PRB demand in the twin
    (and loses no UE's service) is kept. Falls back to the previous CIO if none does.
    """
    ref = reference or evaluate_snapshot(
        twin, CellState(active=active, cio_db=np.zeros(twin.num_cells)), demand_mbps
    )
    lower, upper = step_bounds(previous_cio_db, config)
    fallback = np.clip(np.rint(previous_cio_db), lower, upper).astype(np.float64)
    must_serve = servable(ref)
    load = ref.prb_load
    best: tuple[float, FloatArray, SolveInfo] | None = None
    for round_ in range(config.milp_rounds):
        bins, const_load = association_bins(
            twin, demand_mbps, active, lower, upper, load, must_serve
        )
        cio, info = _solve_association_milp(bins, const_load, active, lower, upper, config)
        if cio is None:
            if best is None:
                best = (np.inf, fallback, info)
            break
        snap = evaluate_snapshot(
            twin, CellState(active=active, cio_db=cio), demand_mbps, initial_load=ref.prb_load
        )
        twin_max = np.inf if lost_coverage(snap, ref) else measure(snap).max_prb_demand
        detail = {**info.detail, "round": round_ + 1, "twin_max_prb_demand": twin_max}
        info = SolveInfo(
            info.status, info.objective, info.bound, info.mip_gap, info.iterations, detail
        )
        if best is None or twin_max < best[0]:
            best = (twin_max, cio, info)
        load = snap.prb_load
    if best is None:  # unreachable: milp_rounds >= 1
        msg = "BalanceConfig.milp_rounds must be >= 1"
        raise ValidationError(msg)
    twin_max, cio, info = best
    if not np.isfinite(twin_max):
        return fallback, info
    return cio, info


# ---------------------------------------------------------------------------------------------
# the plan over a horizon


@dataclass(frozen=True, eq=False)
class BalanceResult:
    """A load-balancing plan with the twin's figures before (CIO = 0) and after, per interval."""

    plan: Plan
    before: tuple[BalanceKpis, ...]
    after: tuple[BalanceKpis, ...]
    lost_coverage: tuple[int, ...]  # UEs served at CIO = 0 and not with the plan


def cio_actions(
    cio_db: FloatArray,
    previous_cio_db: FloatArray,
    cell_names: tuple[str, ...],
    interval_min: int,
    t0_min: int,
) -> tuple[Action, ...]:
    """One ``cio`` action per cell and interval where the offset changes, ``cio_db`` ``[T, C]``."""
    actions: list[Action] = []
    prev = previous_cio_db
    for t in range(cio_db.shape[0]):
        for cell in np.flatnonzero(cio_db[t] != prev):
            actions.append(
                Action(
                    cell=cell_names[cell],
                    cell_index=int(cell),
                    t_min=t0_min + t * interval_min,
                    action="cio",
                    value=float(cio_db[t, cell]),
                )
            )
        prev = cio_db[t]
    return tuple(actions)


def plan_load_balance(
    twin: Twin,
    demand_mbps: FloatArray,
    solver: str,
    *,
    active: BoolArray | None = None,
    previous_cio_db: FloatArray | None = None,
    config: BalanceConfig | None = None,
    t0_min: int = 0,
) -> BalanceResult:
    """Plan per-cell CIO for each interval of ``demand_mbps`` ``[T, U]``, measured in the twin.

    ``active`` (``[num_cells]``) is the on/sleep state the offsets apply to (all on by default);
    ``previous_cio_db`` the offsets in force before the horizon (0 dB by default).
    """
    if solver not in BALANCE_SOLVERS:
        msg = f"solver must be one of {BALANCE_SOLVERS}, got {solver!r}"
        raise ValidationError(msg)
    config = config or BalanceConfig()
    num_t = demand_mbps.shape[0]
    active = np.ones(twin.num_cells, dtype=bool) if active is None else active
    start = np.zeros(twin.num_cells) if previous_cio_db is None else previous_cio_db
    schedule = np.zeros((num_t, twin.num_cells))
    before: list[BalanceKpis] = []
    after: list[BalanceKpis] = []
    lost: list[int] = []
    infos: list[SolveInfo] = []
    previous = start
    for t in range(num_t):
        zero = CellState(active=active, cio_db=np.zeros(twin.num_cells))
        ref = evaluate_snapshot(twin, zero, demand_mbps[t])
        solve = local_search_interval if solver == "local" else exact_interval
        cio, info = solve(twin, demand_mbps[t], active, previous, config, ref)
        snap = evaluate_snapshot(
            twin, CellState(active=active, cio_db=cio), demand_mbps[t], initial_load=ref.prb_load
        )
        schedule[t] = cio
        before.append(measure(ref))
        after.append(measure(snap))
        lost.append(lost_coverage(snap, ref))
        infos.append(info)
        previous = cio
    statuses = {i.status for i in infos}
    status = statuses.pop() if len(statuses) == 1 else SolveStatus.FEASIBLE
    gaps = [i.mip_gap for i in infos if i.mip_gap is not None]
    detail: dict[str, float | int | str] = {"intervals": num_t}
    for name in ("twin_evaluations", "bins", "columns", "rows"):
        values = [int(i.detail[name]) for i in infos if name in i.detail]
        if values:
            detail[f"{name}_total"] = sum(values)
    plan = Plan(
        objective="load-balance",
        solver=solver,
        t0_min=t0_min,
        interval_min=twin.scenario.interval_min,
        active=np.tile(active, (num_t, 1)),
        actions=cio_actions(schedule, start, twin.cell_names, twin.scenario.interval_min, t0_min),
        solve=SolveInfo(
            status=status,
            objective=max(a.max_prb_demand for a in after),
            bound=None,
            mip_gap=max(gaps) if gaps else None,
            iterations=sum(i.iterations for i in infos),
            detail=detail,
        ),
        cio_db=schedule,
    )
    return BalanceResult(
        plan=plan, before=tuple(before), after=tuple(after), lost_coverage=tuple(lost)
    )
