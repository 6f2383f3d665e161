"""Energy actions as plain records: sleep (light or deep), wake, MIMO muting.

A schedule is three arrays ``[T, C]``: ``active`` (on or asleep), ``trx`` (transceiver chains
in use while on) and ``sleep_state`` (what a sleeping cell does, ``ranopt.twin.power``
``SLEEP_STATES``). The depth of each sleep run follows from its length (``sleep_states``):
deep sleep where the run is long enough to pay for waking up, light sleep otherwise. Each
change becomes one ``Action(cell, t_min, kind, value)`` (``schedule_actions``), the form an
O1 / A1 southbound maps to the network (docs/optimizers.md lists the attributes).
"""

import numpy as np
import numpy.typing as npt

from ranopt.optimize.plan import Action
from ranopt.optimize.switching import sleep_runs
from ranopt.twin.model import Twin
from ranopt.twin.power import DEEP_SLEEP, LIGHT_SLEEP, SLEEP_STATES, WAKING
from ranopt.twin.power import deep_sleep_break_even_intervals as break_even
from ranopt.twin.snapshot import CellState

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# A deep-sleeping radio unit powers up and calibrates before it serves: one interval at
# zero-load power ahead of the wake (an assumption; TR 38.864's 50 ms deep-sleep transition
# is a slot-level figure that leaves out the power supply and boot of a unit off for hours).
DEEP_SLEEP_WAKE_INTERVALS = 1


def full_trx(twin: Twin, num_intervals: int) -> IntArray:
    """Every cell with all its chains in every interval, ``[T, C]``."""
    chains = twin.arrays.num_trx.astype(np.int64)
    return np.broadcast_to(chains, (num_intervals, chains.size)).copy()


def deep_sleep_min_run(twin: Twin, wake_intervals: int = DEEP_SLEEP_WAKE_INTERVALS) -> IntArray:
    """Shortest sleep run (intervals) each cell spends in deep sleep, ``[C]`` (huge: never).

    A run of ``n`` intervals goes deep when ``n`` exceeds the break-even length of
    ``ranopt.twin.power.deep_sleep_break_even_intervals`` (6 for the 64T64R cell).
    """
    a = twin.arrays
    n_star = break_even(a.num_trx, a.p0_w, a.p_sleep_w, a.p_light_sleep_w, wake_intervals)
    never = np.iinfo(np.int64).max // 2
    finite = np.isfinite(n_star)
    runs = np.full(n_star.shape, never, dtype=np.int64)
    runs[finite] = np.floor(n_star[finite]).astype(np.int64) + 1
    return runs


def sleep_states(
    twin: Twin, active: BoolArray, wake_intervals: int = DEEP_SLEEP_WAKE_INTERVALS
) -> IntArray:
    """Sleep state of each cell in each interval of a schedule ``[T, C]`` (by run length).

    A run at least ``deep_sleep_min_run`` long is deep, its last ``wake_intervals`` waking;
    a shorter run is light. The expected length of a run is its planned length: a run that
    reaches the end of the schedule is judged by the part inside it. Awake cells get
    ``LIGHT_SLEEP`` (unused: the twin reads it only for sleeping cells).
    """
    states = np.full(active.shape, LIGHT_SLEEP, dtype=np.int64)
    min_run = deep_sleep_min_run(twin, wake_intervals)
    for cell in np.flatnonzero(~active.all(axis=0)):
        for start, stop in sleep_runs(active[:, cell]):
            if stop - start >= min_run[cell]:
                states[start:stop, cell] = DEEP_SLEEP
                states[max(start, stop - wake_intervals) : stop, cell] = WAKING
    return states


def interval_state(
    active: BoolArray, trx: IntArray | None = None, sleep_state: IntArray | None = None
) -> CellState:
    """Return the twin's cell state of one interval (``[C]`` rows), CIO 0, one PRB pool."""
    return CellState(
        active=active,
        cio_db=np.zeros(active.shape[0]),
        active_trx=trx,
        sleep_state=sleep_state,
    )


def schedule_actions(
    active: BoolArray,
    cell_names: tuple[str, ...],
    interval_min: int,
    t0_min: int = 0,
    *,
    trx: IntArray | None = None,
    num_trx: IntArray | None = None,
    sleep_state: IntArray | None = None,
    previous_active: BoolArray | None = None,
    previous_trx: IntArray | None = None,
) -> tuple[Action, ...]:
    """Turn a schedule ``[T, C]`` into actions, relative to the state before its first row.

    ``sleep`` carries the depth (``"light"`` / ``"deep"``) of the run it starts, and
    ``"waking"`` where a deep run enters its waking interval (the radio powers up before it
    serves: over O1 the cell is unlocked ahead of its wake); ``wake`` the return to service,
    ``mimo`` the chains in use (a number) whenever an active cell changes them or wakes with
    fewer than it had. The state before defaults to every cell on with all its chains
    (``num_trx``, ``[C]``).
    """
    num_t, num_c = active.shape
    before = np.ones(num_c, dtype=bool) if previous_active is None else previous_active
    chains = previous_trx if previous_trx is not None else num_trx
    if trx is not None and chains is None:
        chains = trx.max(axis=0)
    actions: list[Action] = []
    for t in range(num_t):
        t_min = t0_min + t * interval_min
        for cell in np.flatnonzero(active[t] != before):
            c = int(cell)
            if active[t, c]:
                actions.append(Action(cell_names[c], c, t_min, "wake"))
            else:
                depth = SLEEP_STATES[
                    DEEP_SLEEP
                    if sleep_state is not None and sleep_state[t, c] in (DEEP_SLEEP, WAKING)
                    else LIGHT_SLEEP
                ]
                actions.append(Action(cell_names[c], c, t_min, "sleep", depth))
        if sleep_state is not None and t > 0:
            waking = ~active[t] & ~before & (sleep_state[t] == WAKING)
            waking &= sleep_state[t - 1] == DEEP_SLEEP
            for cell in np.flatnonzero(waking):
                c = int(cell)
                actions.append(Action(cell_names[c], c, t_min, "sleep", SLEEP_STATES[WAKING]))
        if trx is not None and chains is not None:
            changed = active[t] & (trx[t] != chains)
            for cell in np.flatnonzero(changed):
                c = int(cell)
                actions.append(Action(cell_names[c], c, t_min, "mimo", float(trx[t, c])))
            chains = np.where(active[t], trx[t], chains)
        before = active[t]
    return tuple(actions)
