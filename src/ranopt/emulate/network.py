"""The emulated network: the twin run interval by interval with the configuration O1 committed.

At the start of each interval the running configuration (and the enforced A1 policies) become
the cell state in force for that interval: a cell sleeps when its ``energySavingControl`` is
``toBeEnergySaving`` or its NRCellDU is ``LOCKED``; a locked cell sleeps deep (its radio is
off), an unlocked one in energy saving lightly, except in the first interval after a deep
sleep, which it spends waking (the radio powers up, ``ranopt.twin.power.WAKING``). A cell runs
the most transceiver chains of its options whose power fits its NRSectorCarrier's
``configuredMaxTxPower`` (MIMO muting, ``ranopt.southbound.actions``). Its CIO is the mean of
the offsets its neighbours' relations apply to it, plus the steering offset of an A1
traffic-steering policy; a slice's dedicated PRB share is its ``rRMPolicyDedicatedRatio``.
The interval is then evaluated with ``evaluate_snapshot`` beside the always-on counterfactual
on the same demand (failed cells stay down in both), and judged with the planner's own QoS
rule (``check_snapshot``).
"""

import threading
from dataclasses import dataclass, field

import numpy as np

from ranopt.emulate.datastore import Config
from ranopt.emulate.render import LiveState
from ranopt.emulate.topology import EmulatedTopology, slice_ssts
from ranopt.optimize.evaluate import EnergyConstraints, IntervalCheck, check_snapshot
from ranopt.southbound.a1_types import PREFERENCE_CIO_DB
from ranopt.southbound.nrm import (
    ADMINISTRATIVE_STATE,
    CELL_INDIVIDUAL_OFFSET,
    CONFIGURED_MAX_TX_POWER,
    ENERGY_SAVING_CONTROL,
    RRM_DEDICATED_RATIO,
)
from ranopt.twin.fault import with_failed_cells
from ranopt.twin.model import Twin
from ranopt.twin.power import DEEP_SLEEP, LIGHT_SLEEP, WAKING
from ranopt.twin.simulate import IntervalKpis, collect_kpis
from ranopt.twin.snapshot import CellState, evaluate_snapshot
from ranopt.twin.traffic import demand_for_intervals
from ranopt.twin.units import FloatArray

A1_STEERING_DB = PREFERENCE_CIO_DB  # what each A1 steering preference does to a cell's CIO


@dataclass(frozen=True)
class IntervalResult:
    """One evaluated interval: the network's KPIs, the counterfactual's, and the judgement."""

    interval: int
    kpis: IntervalKpis
    always_on: IntervalKpis
    check: IntervalCheck
    prb_over_limit: np.ndarray[tuple[int], np.dtype[np.bool_]]
    asleep: tuple[int, ...]
    failed: tuple[int, ...]


@dataclass
class EmulatedNetwork:
    """The twin behind the interfaces: configuration in, counters and ground truth out."""

    twin: Twin
    topology: EmulatedTopology
    seed: int
    limits: EnergyConstraints = field(default_factory=EnergyConstraints)
    config: Config = field(default_factory=dict)
    steering_db: dict[str, dict[int, float]] = field(default_factory=dict)  # A1 policy -> cells
    failed: set[int] = field(default_factory=set)
    live: LiveState = field(default_factory=LiveState)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _day: int | None = None
    _day_demand: FloatArray | None = None
    _previous_sleep: np.ndarray[tuple[int], np.dtype[np.int64]] | None = None  # -1: awake

    def __post_init__(self) -> None:
        """Start from the topology's initial configuration."""
        if not self.config:
            self.config = self.topology.initial_config()

    def set_config(self, config: Config) -> None:
        """Take a committed running configuration (merged over the previous one)."""
        with self.lock:
            self.config.update(config)

    def state_in_force(self) -> tuple[CellState, frozenset[int], frozenset[int]]:
        """Return the cell state the current configuration gives, with the asleep and ES sets."""
        with self.lock:
            config = dict(self.config)
            failed = frozenset(self.failed)
            steering = [dict(s) for s in self.steering_db.values()]
            previous = None if self._previous_sleep is None else self._previous_sleep.copy()
        cells = self.topology.cells
        num_cells = len(cells)
        active = np.ones(num_cells, dtype=bool)
        locked = np.zeros(num_cells, dtype=bool)
        es: set[int] = set()
        cio_sum = np.zeros(num_cells)
        cio_num = np.zeros(num_cells)
        shares = np.zeros((num_cells, len(slice_ssts())))
        trx = self.twin.arrays.num_trx.astype(np.int64)
        for cell in cells:
            if config[(cell.ces_path.local_dn, ENERGY_SAVING_CONTROL.key)] == "toBeEnergySaving":
                active[cell.index] = False
                es.add(cell.index)
            if config[(cell.du_path.local_dn, ADMINISTRATIVE_STATE.key)] == "LOCKED":
                active[cell.index] = False
                locked[cell.index] = True
            power = config.get((cell.carrier_path.local_dn, CONFIGURED_MAX_TX_POWER.key))
            if power is not None:
                trx[cell.index] = self.chains_for(cell.index, int(power))
            for rel_id, target, _ in cell.relations:
                value = config[(cell.relation_path(rel_id).local_dn, CELL_INDIVIDUAL_OFFSET.key)]
                cio_sum[target] += float(value)
                cio_num[target] += 1
            for s, sst in enumerate(slice_ssts()):
                dedicated = config[(cell.rrm_path(sst).local_dn, RRM_DEDICATED_RATIO.key)]
                shares[cell.index, s] = float(dedicated) / 100.0
        cio_db = np.divide(cio_sum, cio_num, out=np.zeros(num_cells), where=cio_num > 0)
        for policy in steering:
            for index, offset in policy.items():
                cio_db[index] += offset
        asleep = frozenset(int(c) for c in np.flatnonzero(~active)) - failed
        # locked: deep sleep; unlocked in energy saving: light, or waking right after deep
        sleep = np.where(locked, DEEP_SLEEP, LIGHT_SLEEP).astype(np.int64)
        if previous is not None:
            sleep[~locked & ~active & (previous == DEEP_SLEEP)] = WAKING
        for c in failed:
            active[c] = False
        sums = shares.sum(axis=1)
        over = sums > 1.0
        shares[over] /= sums[over, None]  # an over-committed cell scales its shares down
        muted = bool((trx < self.twin.arrays.num_trx).any())
        state = CellState(active=active, cio_db=cio_db,
                          slice_shares=shares if shares.any() else None,
                          active_trx=trx if muted else None, sleep_state=sleep)  # fmt: skip
        return state, asleep, frozenset(es) - failed

    def chains_for(self, cell: int, configured_mw: int) -> int:
        """Chains a cell runs under ``configuredMaxTxPower``: its most options that fit.

        Each chain has the power of one (``max_tx_power_per_trx_w``); a configured power
        below the smallest option still runs that option (the radio cannot go lower).
        """
        arrays = self.twin.arrays
        per_chain_mw = float(arrays.max_tx_power_per_trx_w[cell]) * 1000.0
        options = arrays.trx_options[cell]  # full first, descending
        fitting = [n for n in options if n * per_chain_mw <= configured_mw + 1.0]
        return int(fitting[0] if fitting else options[-1])

    def begin_interval(self) -> CellState:
        """Fix the state in force for the interval starting now and show it over O1."""
        state, asleep, es = self.state_in_force()
        with self.lock:
            self.live = LiveState(failed=frozenset(self.failed), asleep=asleep, energy_saving=es)
            self._previous_sleep = np.where(state.active, -1, state.sleep_states())
        return state

    def demand(self, interval: int) -> FloatArray:
        """Realised UE demand of one interval ``[U]`` (the emulator's own seed and day)."""
        ipd = self.twin.scenario.intervals_per_day
        day, t = divmod(interval, ipd)
        if self._day != day or self._day_demand is None:
            self._day_demand = demand_for_intervals(self.twin.traffic, self.seed, day, ipd)
            self._day = day
        demand: FloatArray = self._day_demand[t]  # [U]
        return demand

    def run_interval(
        self,
        interval: int,
        state: CellState,
        *,
        counterfactual: bool = True,
        initial_load: FloatArray | None = None,
    ) -> IntervalResult:
        """Evaluate one interval with ``state`` beside the always-on network.

        ``initial_load`` starts the load fixed point (the previous interval's PRB load, as
        ``ranopt.twin.simulate`` does): same fixed point within its tolerance, fewer steps.
        """
        with self.lock:
            failed = frozenset(self.failed)
        phys = with_failed_cells(self.twin, failed)
        demand = self.demand(interval)
        minutes = self.twin.scenario.interval_min
        snap = evaluate_snapshot(phys, state, demand, initial_load=initial_load)
        reference_state = CellState.all_on(self.twin.num_cells)
        reference_state.active[list(failed)] = False
        same = (
            bool(np.array_equal(state.active, reference_state.active))
            and not state.cio_db.any()
            and state.active_trx is None
        )
        reference = (
            snap
            if (same and state.slice_shares is None) or not counterfactual
            else (evaluate_snapshot(phys, reference_state, demand))
        )
        check = check_snapshot(snap, reference, self.limits)
        limit = self.limits.prb_load_limit(reference.prb_load)
        over = np.where(snap.active, snap.prb_load, 0.0) > limit
        return IntervalResult(
            interval=interval, kpis=collect_kpis([snap], minutes),
            always_on=collect_kpis([reference], minutes), check=check, prb_over_limit=over,
            asleep=tuple(int(c) for c in np.flatnonzero(~state.active) if c not in failed),
            failed=tuple(sorted(failed)),
        )  # fmt: skip
