"""Mixed-integer models for HiGHS: a sparse builder and one solve-and-report step.

Every exact solver (energy, load balancing, slicing) builds its model with ``MilpBuilder``
and solves it with ``solve_milp``, which turns HiGHS's model status into a ``SolveStatus``
(infeasible or time-limited is a status, not an exception).
"""

from dataclasses import dataclass, field

import highspy
import numpy as np
from scipy.sparse import coo_array

from ranopt.optimize.plan import SolveStatus
from ranopt.twin.units import FloatArray


@dataclass
class MilpBuilder:
    """Columns and sparse rows of the horizon MILP, appended as the model is built."""

    col_lower: list[float] = field(default_factory=list)
    col_upper: list[float] = field(default_factory=list)
    col_cost: list[float] = field(default_factory=list)
    col_integer: list[bool] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)
    entries_row: list[int] = field(default_factory=list)
    entries_col: list[int] = field(default_factory=list)
    entries_val: list[float] = field(default_factory=list)

    def column(self, lower: float, upper: float, cost: float, integer: bool) -> int:
        """Add a variable; return its index."""
        self.col_lower.append(lower)
        self.col_upper.append(upper)
        self.col_cost.append(cost)
        self.col_integer.append(integer)
        return len(self.col_lower) - 1

    def row(self, cols: list[int], vals: list[float], lower: float, upper: float) -> None:
        """Add the constraint ``lower <= sum(vals * x[cols]) <= upper``."""
        r = len(self.row_lower)
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        self.entries_row.extend([r] * len(cols))
        self.entries_col.extend(cols)
        self.entries_val.extend(vals)

    def to_highs(self) -> highspy.HighsLp:
        """Return the model as a column-wise ``HighsLp``."""
        num_col, num_row = len(self.col_lower), len(self.row_lower)
        matrix = coo_array(
            (self.entries_val, (self.entries_row, self.entries_col)), shape=(num_row, num_col)
        ).tocsc()
        lp = highspy.HighsLp()
        lp.num_col_ = num_col
        lp.num_row_ = num_row
        lp.col_cost_ = np.array(self.col_cost)
        lp.col_lower_ = np.array(self.col_lower)
        lp.col_upper_ = np.array(self.col_upper)
        lp.row_lower_ = np.array(self.row_lower)
        lp.row_upper_ = np.array(self.row_upper)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = num_col
        lp.a_matrix_.num_row_ = num_row
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
            for i in self.col_integer
        ]
        return lp


@dataclass(frozen=True)
class MilpResult:
    """What HiGHS returned, mapped onto ranopt's solver report."""

    status: SolveStatus
    values: FloatArray | None  # primal solution, None without an incumbent
    objective: float | None
    bound: float
    mip_gap: float | None
    nodes: int  # branch-and-bound nodes (0 for an LP)
    simplex_iterations: int
    highs_status: str


def solve_milp(
    model: MilpBuilder, time_limit_s: float | None = None, mip_rel_gap: float | None = None
) -> MilpResult:
    """Solve a model with HiGHS (single thread, silent) and report its status honestly.

    ``time_limit`` without an incumbent is ``TIME_LIMIT`` with no values: callers keep their
    safe default (for energy, every cell on).
    """
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    if mip_rel_gap is not None:
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.passModel(model.to_highs())
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if model_status == highspy.HighsModelStatus.kOptimal:
        status = SolveStatus.OPTIMAL
    elif model_status == highspy.HighsModelStatus.kInfeasible:
        status = SolveStatus.INFEASIBLE
    elif has_solution or model_status == highspy.HighsModelStatus.kTimeLimit:
        status = SolveStatus.TIME_LIMIT
    else:
        status = SolveStatus.ERROR
    return MilpResult(
        status=status,
        values=np.asarray(h.getSolution().col_value, dtype=np.float64) if has_solution else None,
        objective=float(info.objective_function_value) if has_solution else None,
        bound=float(info.mip_dual_bound),
        mip_gap=float(info.mip_gap) if has_solution else None,
        nodes=int(info.mip_node_count),
        simplex_iterations=int(info.simplex_iteration_count),
        highs_status=h.modelStatusToString(model_status),
    )
