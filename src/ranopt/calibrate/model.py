"""The calibrated model: a topology twin whose UEs and demand shares were fitted to counters.

Demand enters the model per home cell (the cell that carries a UE with every cell on, the
unit in which counters measure and forecasts predict demand) and is spread over the cell's
model UEs by their fitted shares. Which cells carry a sleeping cell's UEs is the model's own
association (``redistribution``), so the estimate of home-cell demand under sleep and the
plans made on the model use one and the same physics.
"""

from dataclasses import dataclass, fields, replace

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import (
    LOAD_TOLERANCE,
    MAX_ITERATIONS,
    CellState,
    associate,
    evaluate_snapshot,
    solve_load,
)
from ranopt.twin.topology import TopologyWarning
from ranopt.twin.units import FloatArray, group_sum

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _take_rows(obj: object, index: IntArray, num_rows: int) -> object:
    """Return a frozen dataclass with every array whose first axis is ``num_rows`` indexed."""
    changes = {}
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == num_rows:
            changes[f.name] = value[index]
    return replace(obj, **changes)  # type: ignore[type-var]


def select_ues(twin: Twin, index: IntArray) -> Twin:
    """Return the twin with only UEs ``index`` (repeats allowed), link budget and traffic too.

    Every per-UE array (first axis ``num_ues``) of the drop, the link budget and the traffic
    model is indexed, so a UE keeps its position, indoor state, slice and large-scale fading.
    """
    if index.ndim != 1 or (index.size and (index.min() < 0 or index.max() >= twin.num_ues)):
        msg = f"UE index must be 1-D within [0, {twin.num_ues})"
        raise ValidationError(msg)
    num = twin.num_ues
    return replace(
        twin,
        scenario=replace(twin.scenario, num_ues=max(int(index.size), 1)),
        ues=_take_rows(twin.ues, index, num),  # type: ignore[arg-type]
        link=_take_rows(twin.link, index, num),  # type: ignore[arg-type]
        traffic=_take_rows(twin.traffic, index, num),  # type: ignore[arg-type]
    )


def home_cells_of(twin: Twin) -> IntArray:
    """Each UE's serving cell with every cell on, ``[num_ues]`` (-1: no suitable cell)."""
    zero = np.zeros(twin.num_ues)
    return evaluate_snapshot(twin, CellState.all_on(twin.num_cells), zero).serving_cell


def serving_cells(twin: Twin, active: BoolArray) -> IntArray:
    """Each UE's serving cell when ``active`` cells are on (CIO 0), ``[num_ues]`` (-1: none)."""
    zero = np.zeros(twin.num_ues)
    state = CellState(active=active, cio_db=np.zeros(twin.num_cells))
    return evaluate_snapshot(twin, state, zero).serving_cell


def redistribution_of(
    serving: IntArray, home: IntArray, share: FloatArray, num_cells: int
) -> FloatArray:
    """``redistribution`` from the UEs' serving cells in the state (``serving_cells``)."""
    covered = (serving >= 0) & (home >= 0)
    flat = serving[covered] * num_cells + home[covered]
    # [C * C] summed shares, row-major [serving, home]
    matrix = group_sum(flat, share[covered], num_cells * num_cells)
    return np.asarray(matrix.reshape(num_cells, num_cells), dtype=np.float64)


def redistribution(twin: Twin, home: IntArray, share: FloatArray, active: BoolArray) -> FloatArray:
    """Share of each home cell's demand that each cell carries in an on/sleep state, ``[C, C]``.

    Entry ``[j, c]`` is the demand share of home cell ``c`` whose UEs are served by cell ``j``
    when ``active`` cells are on (CIO 0); a column sums to less than 1 when some of its UEs
    find no suitable cell. With every cell on it is the identity on cells that have UEs.
    """
    return redistribution_of(serving_cells(twin, active), home, share, twin.num_cells)


DAY_CLASSES: tuple[str, ...] = ("weekday", "weekend")
WEEKEND_FROM = 5  # Saturday (Monday is 0)


def day_class(weekday: int) -> int:
    """Index into ``DAY_CLASSES`` of a weekday (Monday 0)."""
    return int(weekday >= WEEKEND_FROM)


def time_bin(interval_of_day: int, intervals_per_day: int, num_bins: int) -> int:
    """Time-of-day bin (``num_bins`` equal parts of the day) of an interval of the day."""
    return int((interval_of_day % intervals_per_day) * num_bins // intervals_per_day)


def present_shares(
    weight: FloatArray, home: IntArray, present: BoolArray, num_cells: int
) -> FloatArray:
    """Each UE's share of its home cell's demand among the cell's present UEs, ``[U]``.

    ``weight`` ``[U]`` are the fitted shares over all the cell's UEs; absent UEs get 0 and the
    present ones are renormalised to sum 1 per cell (0 where no UE of the cell is present).
    """
    w = np.where(present & (home >= 0), weight, 0.0)
    total = group_sum(np.maximum(home, 0), w, num_cells)[np.maximum(home, 0)]
    return np.asarray(np.divide(w, total, out=np.zeros_like(w), where=total > 0))


@dataclass(frozen=True, eq=False)
class CellFit:
    """What calibration fitted per cell, arrays ``[num_cells]``.

    ``cost_*`` are PRB-load seconds per Mbit of home-cell demand: the observed value over the
    training intervals, and the model's after the fit.
    """

    num_ues: IntArray  # model UEs homed on the cell (from RRC.ConnMean at its busiest)
    num_candidates: IntArray  # dropped UEs the cell would serve with every cell on
    tilt: FloatArray  # exponent of the demand tilt toward costly (edge) UEs, day mean; 0 = uniform
    cost_observed: FloatArray  # NaN where the cell had no fit interval
    cost_model: FloatArray
    clamped: BoolArray  # target outside what the cell's UEs can reach: nearest reachable used
    unmodelled: BoolArray  # carried traffic but no dropped UE can reach it
    tilt_by_bin: FloatArray  # [B, C] the tilt of each time-of-day bin


@dataclass(frozen=True, eq=False)
class CalibratedModel:
    """The model the planner plans on: twin, UE homes, shares and presence, the fitted values.

    ``twin`` has the fitted UEs only; ``share[b, u]`` is UE ``u``'s weight in its home cell's
    demand in time-of-day bin ``b`` (weights of a cell sum to 1; where in a cell demand sits
    changes over the day, ``time_bin``). Which of a cell's UEs are there changes over the day
    (people commute, ``RRC.ConnMean`` shows it): ``presence[k, t, c]`` UEs of home cell ``c``
    are present at interval-of-day ``t`` on days of class ``k`` (``DAY_CLASSES``), those whose
    ``rank`` (their place in the cell's presence order) is below it; the cell's demand is
    spread over the present ones (``share_at``). ``demand_share[t, c]`` is home cell ``c``'s
    share of the network's served demand at interval-of-day ``t`` (the prior that splits what
    awake cells carry between their own and sleeping cells' UEs).
    """

    twin: Twin
    home: IntArray  # [U]
    share: FloatArray  # [B, U]
    rank: IntArray  # [U] place in the home cell's presence order (0: always present)
    presence: IntArray  # [2, T, C] UEs of each home cell present, by day class and interval
    demand_share: FloatArray  # [T, C]
    fit: CellFit
    warnings: tuple[TopologyWarning, ...]
    no_n78_share: float = float("nan")  # fitted share of UEs without n78 (NaN: not fitted)

    @property
    def num_cells(self) -> int:
        """Cells of the model."""
        return self.twin.num_cells

    @property
    def cell_names(self) -> tuple[str, ...]:
        """Cell names in model order (the topology's)."""
        return self.twin.cell_names

    @property
    def intervals_per_day(self) -> int:
        """Intervals of a day in the presence profile."""
        return int(self.presence.shape[1])

    def present(self, weekday: int, interval_of_day: int) -> BoolArray:
        """UEs present at one interval of a day of the week (Monday 0), ``[U]``."""
        count = self.presence[day_class(weekday), interval_of_day % self.intervals_per_day]
        return np.asarray((self.home >= 0) & (self.rank < count[np.maximum(self.home, 0)]))

    def share_at(self, weekday: int, interval_of_day: int) -> FloatArray:
        """Each UE's share of its home cell's demand at one interval, ``[U]`` (0: absent)."""
        present = self.present(weekday, interval_of_day)
        weight = self.share[time_bin(interval_of_day, self.intervals_per_day, self.share.shape[0])]
        return present_shares(weight, self.home, present, self.num_cells)

    def shares(self, weekdays: IntArray, intervals_of_day: IntArray) -> FloatArray:
        """``share_at`` of several intervals, ``[N, U]``."""
        return np.stack(
            [self.share_at(int(w), int(t)) for w, t in zip(weekdays, intervals_of_day, strict=True)]
        )

    def ue_demand(
        self, home_demand_mbps: FloatArray, weekday: int, interval_of_day: int
    ) -> FloatArray:
        """Spread one interval's home-cell demand ``[C]`` over the present UEs: ``[U]``, Mbit/s."""
        share = self.share_at(weekday, interval_of_day)
        return np.asarray(home_demand_mbps[np.maximum(self.home, 0)] * share, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class UeLoad:
    """Per-UE rates and loads of one interval, from the twin's own load fixed point."""

    serving: IntArray  # [U] serving cell, -1 without coverage
    rate_mbps: FloatArray  # [U] rate with all of the serving cell's DL resources
    ue_load: FloatArray  # [U] PRB share the UE asks of its serving cell (demand / rate)
    prb_load: FloatArray  # [C] used PRB share, 0-1
    su_rate_mbps: FloatArray  # [U] the UE's rate when scheduled alone (what DRB.UEThpDl sees)


def ue_loads(
    twin: Twin,
    active: BoolArray,
    demand_mbps: FloatArray,
    initial_load: FloatArray | None = None,
) -> UeLoad:
    """Solve one interval's load fixed point and return each UE's rate and PRB share.

    Uses the twin's association and load solver (``ranopt.twin.snapshot``), so a change to
    the physics there reaches calibration unchanged; ``initial_load`` starts the fixed point
    (e.g. from the previous interval's loads).
    """
    state = CellState(active=active, cio_db=np.zeros(twin.num_cells))
    assoc = associate(twin, state)
    solution = solve_load(
        twin, state, assoc, demand_mbps, initial_load, LOAD_TOLERANCE, MAX_ITERATIONS
    )
    rate = np.where(assoc.covered, solution.rate_mbps, 0.0)
    demand = np.where(assoc.covered, demand_mbps, 0.0)
    ue_load = np.divide(demand, rate, out=np.zeros_like(demand), where=rate > 0)
    su_rate = np.where(assoc.covered, solution.su_rate_mbps, 0.0)
    return UeLoad(
        serving=assoc.serving, rate_mbps=rate, ue_load=ue_load, prb_load=solution.load,
        su_rate_mbps=su_rate,
    )  # fmt: skip
