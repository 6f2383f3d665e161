"""Extra-sleep pass: sleep and mute more where the twin, not the bin model, says the plan holds.

The solvers plan on the linear bin model (``ranopt.optimize.surrogate``), whose interference is
frozen at a conservative reference, and repair (``ranopt.optimize.energy.repair_schedule``)
only wakes and unmutes: where the model is conservative, sleep the twin would allow stays
unused. This pass starts from a repaired schedule and tries, best estimated power saving
first, to put one capacity cell to sleep for longer (a sleep run extended by one interval, or
a new run of the minimum sleep length) or to mute an active cell one chain level deeper. Each
move is replayed in the twin on every checked demand set with the neighbourhood evaluation
(``ranopt.twin.neighbourhood.evaluate_change``) and kept only where every cell keeps a margin
below its PRB-load limit (``headroom``, as the bin model's planning headroom: the scenarios are
a sample and the realised day lies outside them), the other checks repair uses
(``ranopt.optimize.evaluate.check_snapshot``) still hold and the planning demand's power
drops. The (interval, set) pairs with least slack are checked first. The kept moves are
then confirmed by whole-network evaluations (with the same margin); an interval that a
whole-network check rejects gets its original state back. The switching rules hold by
construction (a move that would break them is never tried); sleep depths are left to
``ranopt.optimize.actions.sleep_states``, which the plan's assembly applies afterwards.
"""

import heapq
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.optimize.energy import CAPACITY_LAYER, EXTRA_SLEEP_HEADROOM, ReferenceCache
from ranopt.optimize.evaluate import (
    EnergyConstraints,
    SnapshotMemo,
    check_snapshot,
    evaluate_interval,
)
from ranopt.optimize.muting import mute_levels
from ranopt.optimize.switching import SwitchingRules, enforce_switching_rules, sleep_runs
from ranopt.twin.model import Twin
from ranopt.twin.neighbourhood import candidate_index, evaluate_change
from ranopt.twin.snapshot import CellState, Snapshot
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

SLEEP, MUTE = 0, 1  # move kinds; sleeps before mutes at equal estimated saving
VERIFY_ROUNDS = 4  # whole-network confirmation rounds before the pass gives its input back
NEIGHBOUR_DEPTH = 3  # a UE's best-ranked cells taken as neighbours when ordering the checks


@dataclass(frozen=True, eq=False)
class ExtraSleepResult:
    """The schedule after the pass and what it did (counts, for the plan's solve detail)."""

    schedule: BoolArray  # [T, C] on/sleep
    trx: IntArray  # [T, C] chains in use
    cell_intervals_slept: int  # cell-intervals asleep that were on before the pass
    cell_intervals_muted: int  # cell-intervals that run fewer chains than before
    moves_tried: int  # moves replayed in the twin (neighbourhood evaluation)
    neighbourhood_evaluations: int
    whole_network_evaluations: int
    intervals_restored: int  # intervals a whole-network check gave back their original state

    def detail(self) -> dict[str, float]:
        """Return the counts as a plan's ``SolveInfo.detail`` entries."""
        return {
            "extra_sleep_cell_intervals": self.cell_intervals_slept,
            "extra_mute_cell_intervals": self.cell_intervals_muted,
            "extra_sleep_moves_tried": self.moves_tried,
            "extra_sleep_neighbourhood_evaluations": self.neighbourhood_evaluations,
            "extra_sleep_whole_network_evaluations": self.whole_network_evaluations,
            "extra_sleep_intervals_restored": self.intervals_restored,
        }


@dataclass(frozen=True, order=True)
class _Move:
    """One candidate change, ordered best first: highest estimated saving, then kind, cell."""

    neg_saving_w: float
    kind: int
    cell: int
    intervals: tuple[int, ...]
    trx: int  # chains after a mute (0 for a sleep)


def keeps_rules(column: BoolArray, rules: SwitchingRules, intervals_per_day: int) -> bool:
    """Whether one cell's on/sleep column ``[T]`` keeps the minimum sleep and cycle limits."""
    return bool(
        (enforce_switching_rules(column[:, None], rules, intervals_per_day)[:, 0] == column).all()
    )


def ranked_neighbours(twin: Twin, depth: int = NEIGHBOUR_DEPTH) -> BoolArray:
    """``[C, C]``: cells ranked among the ``depth`` best of a UE together (what a sleep loads).

    A UE's serving cell and its next-ranked cells (``LinkBudget.rank_db``, band supported) are
    where its traffic goes when the cell sleeps; only for ordering the checked sets.
    """
    link = twin.link
    rank = np.where(link.supported, link.rank_db, -np.inf)
    depth = min(depth, link.k)
    top = np.take_along_axis(link.cell_idx, np.argsort(-rank, axis=1)[:, :depth], axis=1)
    near = np.eye(twin.num_cells, dtype=bool)
    for i in range(depth):
        for j in range(depth):
            near[top[:, i], top[:, j]] = True
    return near


class _Replay:
    """The pass's state: schedule, chains and the current snapshot of each (interval, set)."""

    def __init__(
        self,
        twin: Twin,
        demand_sets: list[FloatArray],
        schedule: BoolArray,
        trx: IntArray,
        limits: EnergyConstraints,
        references: ReferenceCache,
        memo: SnapshotMemo | None,
        headroom: float,
    ) -> None:
        self.twin = twin
        self.demand_sets = demand_sets
        self.input_schedule, self.input_trx = schedule, trx
        self.schedule = schedule.copy()
        self.trx = trx.copy()
        self.limits = limits
        self.headroom = headroom
        self.references = references
        self.memo = memo  # for demand set 0 (the planning demand) only
        self.num_trx = twin.arrays.num_trx.astype(np.int64)
        self.index = candidate_index(twin)
        self.near = ranked_neighbours(twin)
        # (interval, set) -> current snapshot; what the input state there already broke (other
        # than PRB load) and each cell's PRB-load allowance [C]
        self.snaps: dict[tuple[int, int], Snapshot] = {}
        self.allowed: dict[tuple[int, int], frozenset[str]] = {}
        self.allowance: dict[tuple[int, int], FloatArray] = {}
        self.neighbourhood_evaluations = 0
        self.whole_network_evaluations = 0

    def state(self, active: BoolArray, chains: IntArray) -> CellState:
        """Return the twin's cell state of one interval (CIO 0; chains only when some are muted)."""
        muted = bool((chains < self.num_trx).any())
        return CellState(
            active=active, cio_db=np.zeros(self.twin.num_cells),
            active_trx=chains.copy() if muted else None,
        )  # fmt: skip

    def whole(self, t: int, d: int, active: BoolArray, chains: IntArray) -> tuple[Snapshot, bool]:
        """Whole-network snapshot of interval ``t`` on set ``d``; whether it keeps its checks."""
        key = (t, d)
        if key not in self.allowed:
            same = (active == self.input_schedule[t]).all() and (chains == self.input_trx[t]).all()
            snap = self._evaluate(t, d, active, chains)
            self._set_allowances(t, d, snap if same else self._evaluate(t, d, *self._input_row(t)))
            if same:
                return snap, True
        else:
            snap = self._evaluate(t, d, active, chains)
        return snap, self.holds(t, d, snap)

    def _set_allowances(self, t: int, d: int, given: Snapshot) -> None:
        """Record what the input state ``given`` of (``t``, ``d``) allows each later state.

        A cell may carry up to its PRB-load limit minus the headroom, or its input load where
        that is already higher (a move never raises it); the other checks may break only where
        the input broke them already.
        """
        reference = self.references.get(d, t)
        check = check_snapshot(given, reference, self.limits)
        self.allowed[(t, d)] = frozenset(check.violations) - {"prb_load"}
        margin = self.limits.prb_load_limit(reference.prb_load) - self.headroom
        self.allowance[(t, d)] = np.maximum(margin, _active_load(given))

    def holds(self, t: int, d: int, snap: Snapshot) -> bool:
        """Whether ``snap`` of (``t``, ``d``) keeps every cell's allowance and the other checks."""
        if (_active_load(snap) > self.allowance[(t, d)]).any():
            return False
        check = check_snapshot(snap, self.references.get(d, t), self.limits)
        return set(check.violations) - {"prb_load"} <= self.allowed[(t, d)]

    def _input_row(self, t: int) -> tuple[BoolArray, IntArray]:
        return self.input_schedule[t], self.input_trx[t]

    def _evaluate(self, t: int, d: int, active: BoolArray, chains: IntArray) -> Snapshot:
        self.whole_network_evaluations += 1
        snap, _, _ = evaluate_interval(
            self.twin, self.demand_sets[d][t], active, self.limits, self.references.get(d, t),
            trx=chains, memo=self.memo if d == 0 else None,
        )  # fmt: skip
        return snap

    def current(self, t: int, d: int) -> Snapshot:
        """Return the snapshot of interval ``t`` on set ``d`` in the pass's current state."""
        key = (t, d)
        if key not in self.snaps:
            self.snaps[key], _ = self.whole(t, d, self.schedule[t], self.trx[t])
        return self.snaps[key]

    def slack(self, t: int, d: int, cell: int) -> float:
        """Smallest PRB-load allowance left, now, among the cells ranked near ``cell``."""
        snap = self.current(t, d)
        near = self.near[cell] & snap.active
        left = self.allowance[(t, d)][near] - snap.prb_load[near]
        return float(left.min()) if left.size else np.inf

    def check_order(self, move: _Move) -> list[tuple[int, int]]:
        """Return the (interval, set) pairs a move is checked on, the tightest first.

        The pair with the least PRB-load allowance left near the move's cell comes first, then
        the planning demand's intervals (whose power must drop), then the rest by that slack:
        a move that fails usually fails on its first evaluation, whichever interval it fails in.
        """
        pairs = [(t, d) for t in move.intervals for d in range(len(self.demand_sets))]
        slack = {pair: self.slack(*pair, move.cell) for pair in pairs}
        pairs.sort(key=lambda pair: (slack[pair], pair))
        first, rest = pairs[0], pairs[1:]
        planning = [pair for pair in rest if pair[1] == 0]
        return [first, *planning, *(pair for pair in rest if pair[1] != 0)]

    def try_move(self, move: _Move) -> int | None:
        """Replay ``move`` on every set; apply it when every check holds and power drops.

        Returns None when applied, else the interval where the twin rejected it.
        """
        c = move.cell
        states: dict[int, CellState] = {}
        for t in move.intervals:
            active = self.schedule[t].copy()
            chains = self.trx[t].copy()
            if move.kind == SLEEP:
                active[c] = False
                chains[c] = self.num_trx[c]
            else:
                chains[c] = move.trx
            states[t] = self.state(active, chains)
        trial: dict[tuple[int, int], Snapshot] = {}
        for t, d in self.check_order(move):
            previous = self.current(t, d)
            snap, _ = evaluate_change(
                self.twin, states[t], self.demand_sets[d][t], previous, [c], index=self.index
            )
            self.neighbourhood_evaluations += 1
            holds = self.holds(t, d, snap)
            if d == 0:
                holds &= float(snap.power_w.sum()) < float(previous.power_w.sum())
            if not holds:
                return t
            trial[(t, d)] = snap
        for t in move.intervals:
            if move.kind == SLEEP:
                self.schedule[t, c] = False
                self.trx[t, c] = self.num_trx[c]
            else:
                self.trx[t, c] = move.trx
        self.snaps.update(trial)
        return None


def _active_load(snap: Snapshot) -> FloatArray:
    """PRB load of each active cell, 0 for a sleeping one, ``[C]``."""
    return np.where(snap.active, snap.prb_load, 0.0)


def _sleep_power_w(twin: Twin) -> FloatArray:
    """Light-sleep supply power of each cell, ``[C]`` (what a sleeping cell draws in the pass)."""
    a = twin.arrays
    return np.asarray(a.num_trx * a.p_light_sleep_w / (1.0 - a.supply_loss), dtype=np.float64)


class _Moves:
    """Candidate moves from the pass's current state, each with its estimated saving."""

    def __init__(self, replay: _Replay, muting: bool) -> None:
        twin = replay.twin
        self.replay = replay
        self.num_t = replay.schedule.shape[0]
        self.rules = replay.limits.rules
        self.ipd = twin.scenario.intervals_per_day
        self.sleepable = twin.arrays.layer == CAPACITY_LAYER
        self.sleep_w = _sleep_power_w(twin)
        levels = mute_levels(twin) if muting else None
        self.levels = None if levels is None else levels.trx
        self.scale = [] if levels is None else _level_scales(levels.trx, levels.power_scale)
        self.rejected: set[tuple[int, int]] = set()  # (cell, interval) sleeps the twin refused

    def power_w(self, t: int, c: int) -> float:
        """Return the power cell ``c`` draws in interval ``t`` on the planning demand now, W."""
        return float(self.replay.current(t, 0).power_w[c])

    def sleep(self, c: int, intervals: tuple[int, ...]) -> _Move:
        """Return the move that sleeps ``c`` in ``intervals``."""
        saving = sum(self.power_w(t, c) - float(self.sleep_w[c]) for t in intervals)
        return _Move(-saving, SLEEP, c, intervals, 0)

    def mute(self, c: int, t: int) -> _Move | None:
        """Return the move that mutes ``c`` one level deeper in ``t`` (None: none is left)."""
        if self.levels is None:
            return None
        now = int(self.replay.trx[t, c])
        deeper = self.levels[c][(self.levels[c] > 0) & (self.levels[c] < now)]
        if deeper.size == 0:
            return None
        chains = int(deeper.max())
        saving = self.power_w(t, c) * (1.0 - self.scale[c][chains] / self.scale[c].get(now, 1.0))
        return _Move(-saving, MUTE, c, (t,), chains)

    def extensions(self, c: int) -> list[_Move]:
        """Return the moves that lengthen one of ``c``'s sleep runs by an interval."""
        column = self.replay.schedule[:, c]
        return [
            self.sleep(c, (t,))
            for start, stop in sleep_runs(column)
            for t in (start - 1, stop)
            if 0 <= t < self.num_t and column[t] and (c, t) not in self.rejected
        ]

    def new_runs(self, c: int) -> list[_Move]:
        """Return the moves that start a run of the minimum sleep length where ``c`` is on."""
        column = self.replay.schedule[:, c]
        width = self.rules.min_sleep_intervals
        return [
            self.sleep(c, window)
            for window in (tuple(range(s, s + width)) for s in range(self.num_t - width + 1))
            if column[list(window)].all() and not any((c, t) in self.rejected for t in window)
        ]

    def initial(self) -> list[_Move]:
        """Return every move from the input state: run extensions, new runs, deeper muting."""
        moves: list[_Move] = []
        for c in np.flatnonzero(self.sleepable):
            moves += self.extensions(int(c)) + self.new_runs(int(c))
        on = self.replay.schedule & self.sleepable[None, :]
        for t, c in zip(*np.nonzero(on), strict=True):
            mute = self.mute(int(c), int(t))
            if mute is not None:
                moves.append(mute)
        return moves

    def follow_ups(self, move: _Move) -> list[_Move]:
        """Return the moves an applied ``move`` opens: longer runs, or one more level."""
        if move.kind == SLEEP:
            return self.extensions(move.cell)
        mute = self.mute(move.cell, move.intervals[0])
        return [] if mute is None else [mute]

    def valid(self, move: _Move) -> bool:
        """Whether ``move`` still applies to the current state and keeps the switching rules."""
        c = move.cell
        schedule = self.replay.schedule
        if not schedule[list(move.intervals), c].all():
            return False  # asleep somewhere in the move already
        if move.kind == MUTE:
            return move.trx < int(self.replay.trx[move.intervals[0], c])
        if any((c, t) in self.rejected for t in move.intervals):
            return False
        column = schedule[:, c].copy()
        column[list(move.intervals)] = False
        return keeps_rules(column, self.rules, self.ipd)


def extra_sleep_pass(
    twin: Twin,
    demand_sets: list[FloatArray],
    schedule: BoolArray,
    trx: IntArray,
    limits: EnergyConstraints,
    references: ReferenceCache,
    *,
    memo: SnapshotMemo | None = None,
    muting: bool = True,
    headroom: float = EXTRA_SLEEP_HEADROOM,
) -> ExtraSleepResult:
    """Sleep and mute more than ``schedule`` / ``trx`` ``[T, C]`` where every set still holds.

    ``demand_sets`` are the demand arrays ``[T, U]`` the schedule was repaired on (the planning
    demand first: its power decides whether a move saves energy), ``references`` their
    always-on snapshots. A move is kept only where, in every interval it touches and on every
    set, every active cell's PRB load stays at most its limit minus ``headroom`` (or at its
    input load, where the input is already above that) and the other checks find no violation
    the input did not already have there. Each (cell,
    interval) whose sleep the twin rejects is not tried again: more sleep only loads the other
    cells more. ``memo`` keeps the planning demand's whole-network snapshots for the plan's
    final replay; ``muting`` offers deeper chain levels. Deterministic: no randomness, and
    ties are broken by cell and interval.
    """
    replay = _Replay(twin, demand_sets, schedule, trx, limits, references, memo, headroom)
    moves = _Moves(replay, muting)
    heap = moves.initial()
    heapq.heapify(heap)
    tried: set[tuple[int, tuple[int, ...], int, int]] = set()
    while heap:
        move = heapq.heappop(heap)
        key = (move.cell, move.intervals, move.kind, move.trx)
        if key in tried or not moves.valid(move):
            continue
        tried.add(key)
        failed_at = replay.try_move(move)
        if failed_at is None:
            for follow in moves.follow_ups(move):
                heapq.heappush(heap, follow)
        elif move.kind == SLEEP:
            moves.rejected.add((move.cell, failed_at))
    schedule_out, trx_out, restored = _confirm(replay, schedule, trx)
    return ExtraSleepResult(
        schedule=schedule_out,
        trx=trx_out,
        cell_intervals_slept=int((schedule & ~schedule_out).sum()),
        cell_intervals_muted=int((schedule_out & (trx_out < trx)).sum()),
        moves_tried=len(tried),
        neighbourhood_evaluations=replay.neighbourhood_evaluations,
        whole_network_evaluations=replay.whole_network_evaluations,
        intervals_restored=restored,
    )


def _level_scales(trx: IntArray, power_scale: FloatArray) -> list[dict[int, float]]:
    """Per cell, chains -> share of active power drawn (1.0 at all chains), from ``[C, M]``."""
    return [
        {int(n): float(s) for n, s in zip(trx[c], power_scale[c], strict=True) if n > 0}
        for c in range(trx.shape[0])
    ]


def _confirm(
    replay: _Replay, schedule: BoolArray, trx: IntArray
) -> tuple[BoolArray, IntArray, int]:
    """Check every changed interval on the whole network; give failing ones their input back.

    A restored interval can shorten a sleep run below the minimum: the switching rules then
    wake that run (waking only adds capacity), and the changed intervals are checked again.
    After ``VERIFY_ROUNDS`` rounds that still fail, the input is returned unchanged.
    """
    fixed, chains = replay.schedule.copy(), replay.trx.copy()
    rules, ipd = replay.limits.rules, replay.twin.scenario.intervals_per_day
    held: dict[tuple[int, int], bytes] = {}  # (interval, set) -> state found holding
    restored = 0
    for _ in range(VERIFY_ROUNDS):
        changed = np.flatnonzero((fixed != schedule).any(axis=1) | (chains != trx).any(axis=1))
        failing = []
        for t in changed:
            signature = fixed[t].tobytes() + chains[t].tobytes()
            for d in range(len(replay.demand_sets)):
                if held.get((int(t), d)) == signature:
                    continue
                _, holds = replay.whole(int(t), d, fixed[t], chains[t])
                if not holds:
                    failing.append(int(t))
                    break
                held[(int(t), d)] = signature
        if not failing:
            return fixed, chains, restored
        restored += len(failing)
        fixed[failing] = schedule[failing]
        chains[failing] = trx[failing]
        woken = enforce_switching_rules(fixed, rules, ipd)
        chains = np.where(woken & ~fixed, replay.num_trx[None, :], chains)
        fixed = woken
    return schedule.copy(), trx.copy(), restored
