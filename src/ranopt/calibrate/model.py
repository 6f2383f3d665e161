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


def redistribution(twin: Twin, home: IntArray, share: FloatArray, active: BoolArray) -> FloatArray:
    """Share of each home cell's demand that each cell carries in an on/sleep state, ``[C, C]``.

    Entry ``[j, c]`` is the demand share of home cell ``c`` whose UEs are served by cell ``j``
    when ``active`` cells are on (CIO 0); a column sums to less than 1 when some of its UEs
    find no suitable cell. With every cell on it is the identity on cells that have UEs.
    """
    num_cells = twin.num_cells
    zero = np.zeros(twin.num_ues)
    serving = evaluate_snapshot(
        twin, CellState(active=active, cio_db=np.zeros(num_cells)), zero
    ).serving_cell
    covered = (serving >= 0) & (home >= 0)
    flat = serving[covered] * num_cells + home[covered]
    # [C * C] summed shares, row-major [serving, home]
    matrix = group_sum(flat, share[covered], num_cells * num_cells)
    return np.asarray(matrix.reshape(num_cells, num_cells), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class CellFit:
    """What calibration fitted per cell, arrays ``[num_cells]``.

    ``cost_*`` are PRB-load seconds per Mbit of home-cell demand: the observed value over the
    training intervals, and the model's after the fit.
    """

    num_ues: IntArray  # model UEs homed on the cell (from RRC.ConnMean)
    num_candidates: IntArray  # dropped UEs the cell would serve with every cell on
    tilt: FloatArray  # exponent of the demand tilt toward costly (edge) UEs; 0 = uniform
    cost_observed: FloatArray  # NaN where the cell had no fit interval
    cost_model: FloatArray
    clamped: BoolArray  # target outside what the cell's UEs can reach: nearest reachable used
    unmodelled: BoolArray  # carried traffic but no dropped UE can reach it


@dataclass(frozen=True, eq=False)
class CalibratedModel:
    """The model the planner plans on: twin, UE homes and shares, and the fitted quantities.

    ``twin`` has the fitted UEs only; ``share[u]`` is UE ``u``'s share of its home cell's
    demand (shares of a cell sum to 1); ``demand_share[t, c]`` is home cell ``c``'s share of
    the network's served demand at interval-of-day ``t`` (the prior that splits what awake
    cells carry between their own and sleeping cells' UEs).
    """

    twin: Twin
    home: IntArray  # [U]
    share: FloatArray  # [U]
    demand_share: FloatArray  # [T, C]
    fit: CellFit
    warnings: tuple[TopologyWarning, ...]

    @property
    def num_cells(self) -> int:
        """Cells of the model."""
        return self.twin.num_cells

    @property
    def cell_names(self) -> tuple[str, ...]:
        """Cell names in model order (the topology's)."""
        return self.twin.cell_names

    def ue_demand(self, home_demand_mbps: FloatArray) -> FloatArray:
        """Spread home-cell demand ``[..., C]`` over the model's UEs: ``[..., U]``, Mbit/s."""
        return np.asarray(
            home_demand_mbps[..., np.maximum(self.home, 0)] * self.share, dtype=np.float64
        )


@dataclass(frozen=True, eq=False)
class UeLoad:
    """Per-UE rates and loads of one interval, from the twin's own load fixed point."""

    serving: IntArray  # [U] serving cell, -1 without coverage
    rate_mbps: FloatArray  # [U] rate with all of the serving cell's DL resources
    ue_load: FloatArray  # [U] PRB share the UE asks of its serving cell (demand / rate)
    prb_load: FloatArray  # [C] used PRB share, 0-1


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
    return UeLoad(serving=assoc.serving, rate_mbps=rate, ue_load=ue_load, prb_load=solution.load)
