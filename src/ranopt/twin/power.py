"""Base-station power: cells with sleep states and MIMO muting, and the site around them.

A cell's power is the EARTH linear form (Auer et al. 2011) per transceiver chain; the massive-
MIMO capacity cell takes its parameters from TR 38.864's relative power model. What a site
keeps on whatever its cells do (baseband chassis, transport, rectifier and cooling losses) is
``SitePowerModel``, shared over the site's cells so that per-cell figures add up to the site.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.twin.elements import PowerModel
from ranopt.twin.units import FloatArray

# Auer et al. 2011, "How much energy is needed to run a wireless network?", IEEE Wireless
# Commun. 18(5), Table 2, macro BS: N_TRX = 6 (3 sectors x 2 antennas), P_max = 20 W,
# P0 = 130 W, delta_p = 4.7, P_sleep = 75 W. One cell is one sector: 2 chains. The figures are
# at the mains: they already carry the BS's DC-DC, cooling and rectifier losses.
EARTH_MACRO_CELL = PowerModel(
    num_trx=2,
    max_tx_power_per_trx_w=20.0,
    p0_w=130.0,
    delta_p=4.7,
    p_sleep_w=75.0,
    source="EARTH macro, Auer et al. 2011 Table 2 (per sector: 2 of the 6 TRX)",
)

# Auer et al. 2011 Table 1 (macro): losses of the DC-DC converters 7.5 %, of the mains supply
# (rectifier) 9 %, of active cooling 10 % of the power they feed.
EARTH_DC_DC_LOSS = 0.075
EARTH_MAINS_SUPPLY_LOSS = 0.09
EARTH_COOLING_LOSS = 0.10

# TR 38.864 V18.1.0 Table 5.1-3, BS category 1, set 1 (reference: FR1 TDD 100 MHz, 30 kHz SCS,
# 64 TxRU, 55 dBm, Table 5.1-1): relative power of deep sleep 1, light sleep 25, micro sleep 55,
# active DL at full allocation 280.
TR38864_DEEP_SLEEP_REL = 1.0
TR38864_LIGHT_SLEEP_REL = 25.0
TR38864_MICRO_SLEEP_REL = 55.0
TR38864_ACTIVE_DL_REL = 280.0
TR38864_REF_TX_POWER_W = 316.23  # 55 dBm, TR 38.864 Table 5.1-1 set 1
# TR 38.864 Table 5.1-2: total transition time (ms) and additional transition energy
# (relative power x ms) of each sleep state
TR38864_LIGHT_SLEEP_TRANSITION_MS = 6.0
TR38864_LIGHT_SLEEP_TRANSITION_ENERGY = 100.0
TR38864_DEEP_SLEEP_TRANSITION_MS = 50.0
TR38864_DEEP_SLEEP_TRANSITION_ENERGY = 1000.0
# TR 38.864 cl. 5.1 DL scaling: P = P_micro + (P_DL - P_micro) (A + (1 - A) s_f), A = 0.4 the
# load-independent share; a cell that carries traffic schedules in every DL slot, so s_f is
# its PRB load.
TR38864_LOAD_INDEPENDENT_SHARE = 0.4
# Absolute scale (an assumption, not from TR 38.864, which gives relative values only): the
# 64T64R AAU draws 1.2 kW at full DL load (its -48 V input), within vendor datasheet ranges.
MMIMO_FULL_LOAD_W = 1200.0
# Share of the AAU's active power that stays when transceiver chains are muted, in TR 38.864
# cl. 5.1's spatial-domain form P(X) = [B + (1 - B) X / Y] P(Y). Assumption: what does not
# scale with the chains in use (power supply, fans, fronthaul interface, the common digital
# part) is taken as 40 % of the AAU's power, so muting 64 -> 32 chains saves 30 % and
# 64 -> 16 saves 45 %; a chain-by-chain split of the TR's micro-sleep state would give less
# (about 20 %) and credit muting with more.
MMIMO_SPATIAL_STATIC_SHARE = 0.4
_MMIMO_TRX = 64

SLEEP_STATES: tuple[str, ...] = ("light", "deep", "waking")
LIGHT_SLEEP, DEEP_SLEEP, WAKING = 0, 1, 2


def tr38864_power_model(
    sleep_rel: float = TR38864_DEEP_SLEEP_REL,
    full_load_w: float = MMIMO_FULL_LOAD_W,
    light_sleep_rel: float | None = TR38864_LIGHT_SLEEP_REL,
) -> PowerModel:
    """Return the 64T64R capacity-cell power model, TR 38.864 relative powers in EARTH form.

    ``N P0`` is the power at zero PRB load, ``P_micro + A (P_DL - P_micro)``; ``N delta_p
    P_max`` the load-dependent part ``(1 - A)(P_DL - P_micro)``; deep sleep is ``sleep_rel``,
    light sleep ``light_sleep_rel``. The AAU runs on -48 V from the site's rectifier, whose
    loss (EARTH's mains-supply figure) is added on top.
    """
    w_per_rel = full_load_w / TR38864_ACTIVE_DL_REL
    per_trx_tx_w = TR38864_REF_TX_POWER_W / _MMIMO_TRX
    dynamic_rel = TR38864_ACTIVE_DL_REL - TR38864_MICRO_SLEEP_REL
    zero_load_rel = TR38864_MICRO_SLEEP_REL + TR38864_LOAD_INDEPENDENT_SHARE * dynamic_rel
    load_rel = (1.0 - TR38864_LOAD_INDEPENDENT_SHARE) * dynamic_rel
    return PowerModel(
        num_trx=_MMIMO_TRX,
        max_tx_power_per_trx_w=per_trx_tx_w,
        p0_w=zero_load_rel * w_per_rel / _MMIMO_TRX,
        delta_p=load_rel * w_per_rel / (_MMIMO_TRX * per_trx_tx_w),
        p_sleep_w=sleep_rel * w_per_rel / _MMIMO_TRX,
        source=(
            "TR 38.864 Table 5.1-3 BS cat. 1 set 1 (deep sleep 1, light sleep 25, micro sleep "
            f"55, DL 280, A = 0.4), scaled to {full_load_w:.0f} W at full load"
        ),
        p_light_sleep_w=None
        if light_sleep_rel is None
        else light_sleep_rel * w_per_rel / _MMIMO_TRX,
        spatial_static_share=MMIMO_SPATIAL_STATIC_SHARE,
        supply_loss=EARTH_MAINS_SUPPLY_LOSS,
    )


MMIMO_64T64R_CELL = tr38864_power_model()


@dataclass(frozen=True)
class SitePowerModel:
    """What a site draws whatever its cells do: common baseband, transport and auxiliaries.

    The equipment figures are DC loads; the rectifier and the cooling of the indoor equipment
    add EARTH's losses on top (``always_on_w``).
    """

    baseband_common_w: float  # baseband chassis, main control and transport boards, W
    transport_w: float  # backhaul equipment (microwave link or fibre switch), W
    auxiliary_w: float  # site controller, monitoring, alarms, W
    supply_loss: float = EARTH_MAINS_SUPPLY_LOSS
    cooling_loss: float = EARTH_COOLING_LOSS
    source: str = ""

    def __post_init__(self) -> None:
        """Reject negative loads and losses outside [0, 1)."""
        for name in ("baseband_common_w", "transport_w", "auxiliary_w"):
            if getattr(self, name) < 0:
                msg = f"SitePowerModel.{name} must be >= 0, got {getattr(self, name)!r}"
                raise ValidationError(msg)
        for name in ("supply_loss", "cooling_loss"):
            if not 0.0 <= getattr(self, name) < 1.0:
                msg = f"SitePowerModel.{name} must lie in [0, 1), got {getattr(self, name)!r}"
                raise ValidationError(msg)

    @property
    def always_on_w(self) -> float:
        """Input power of the site's common equipment, W."""
        dc_w = self.baseband_common_w + self.transport_w + self.auxiliary_w
        # Auer et al. 2011 eq. (2): P_in = P_dc / ((1 - sigma_MS)(1 - sigma_cool))
        return dc_w / ((1.0 - self.supply_loss) * (1.0 - self.cooling_loss))


# Assumed loads (order of magnitude of vendor datasheets, not a cited measurement): the cells'
# own models carry their baseband processing (EARTH's P0 per TRX, TR 38.864's BS power); what
# is left is the shared chassis with its main control and transport boards, one backhaul link
# and the site's controller. Rectifier and cooling losses are EARTH's (Auer et al. 2011).
URBAN_MACRO_SITE = SitePowerModel(
    baseband_common_w=100.0,
    transport_w=50.0,
    auxiliary_w=20.0,
    source=(
        "assumed DC loads (baseband chassis 100 W, transport 50 W, auxiliaries 20 W); "
        "rectifier 9 % and cooling 10 % losses from Auer et al. 2011 Table 1"
    ),
)


def spatial_scale(static_share: npt.ArrayLike, trx_fraction: npt.ArrayLike) -> FloatArray:
    """Return the share of active power a cell draws with a fraction of its chains in use.

    TR 38.864 cl. 5.1 spatial-domain scaling: ``P(X) = [B + (1 - B) X / Y] P(Y)`` for X of Y
    transceiver units in use; ``B`` (``static_share``) is the part that does not scale.
    """
    b = np.asarray(static_share, dtype=np.float64)
    x = np.clip(np.asarray(trx_fraction, dtype=np.float64), 0.0, 1.0)
    return b + (1.0 - b) * x


def input_power_w(
    num_trx: npt.ArrayLike,
    p0_w: npt.ArrayLike,
    delta_p: npt.ArrayLike,
    max_tx_power_per_trx_w: npt.ArrayLike,
    p_sleep_w: npt.ArrayLike,
    prb_load: npt.ArrayLike,
    active: npt.ArrayLike,
) -> FloatArray:
    """Return the supply power of cells, W (all arguments broadcast; shape of the result).

    Auer et al. 2011 eq. (1): ``P_in = N_TRX (P0 + delta_p P_out)`` for ``0 < P_out <= P_max``
    and ``N_TRX P_sleep`` in sleep; the RF output ``P_out`` follows the PRB load (0-1).
    """
    load = np.clip(np.asarray(prb_load, dtype=np.float64), 0.0, 1.0)
    n = np.asarray(num_trx, dtype=np.float64)
    p_out_w = load * np.asarray(max_tx_power_per_trx_w, dtype=np.float64)
    # Auer et al. 2011 eq. (1): the N_TRX factor multiplies both P0 and the load term, and P_sleep
    p_active_w = n * (np.asarray(p0_w, dtype=np.float64) + np.asarray(delta_p) * p_out_w)
    p_asleep_w = n * np.asarray(p_sleep_w, dtype=np.float64)
    return np.where(np.asarray(active, dtype=bool), p_active_w, p_asleep_w)


@dataclass(frozen=True)
class CellPowerArrays:
    """The power parameters of cells as arrays ``[num_cells]`` (see ``PowerModel``)."""

    num_trx: FloatArray
    p0_w: FloatArray
    delta_p: FloatArray
    max_tx_power_per_trx_w: FloatArray
    p_sleep_w: FloatArray  # deep sleep, per chain
    p_light_sleep_w: FloatArray  # light sleep, per chain
    spatial_static_share: FloatArray
    supply_loss: FloatArray
    site_overhead_w: FloatArray  # the cell's share of its site's always-on power


def cell_power_w(
    params: CellPowerArrays,
    prb_load: npt.ArrayLike,
    active: npt.ArrayLike,
    trx_fraction: npt.ArrayLike = 1.0,
    sleep_state: npt.ArrayLike = LIGHT_SLEEP,
) -> FloatArray:
    """Return the input power of cells with their site share, W (arguments broadcast).

    Active: the EARTH form scaled by the chains in use (TR 38.864 spatial scaling); asleep:
    light or deep sleep per chain, or the zero-load power while a deep-sleeping cell wakes
    (``sleep_state``, an index into ``SLEEP_STATES``). The rectifier loss of equipment whose
    figures are at -48 V is added, then the cell's share of the site's always-on power.
    """
    active_w = input_power_w(
        params.num_trx,
        params.p0_w,
        params.delta_p,
        params.max_tx_power_per_trx_w,
        params.p_sleep_w,
        prb_load,
        True,
    ) * spatial_scale(params.spatial_static_share, trx_fraction)
    state = np.asarray(sleep_state)
    per_chain_w = np.where(
        state == DEEP_SLEEP,
        params.p_sleep_w,
        np.where(state == WAKING, params.p0_w, params.p_light_sleep_w),
    )
    asleep_w = params.num_trx * per_chain_w
    equipment_w = np.where(np.asarray(active, dtype=bool), active_w, asleep_w)
    # Auer et al. 2011 eq. (2): P_in = P_equipment / (1 - sigma_MS)
    return np.asarray(
        equipment_w / (1.0 - params.supply_loss) + params.site_overhead_w, dtype=np.float64
    )


def model_power_w(model: PowerModel, prb_load: npt.ArrayLike, active: npt.ArrayLike) -> FloatArray:
    """Return the supply power of cells sharing one power model, W (EARTH form, deep sleep).

    The equipment's own figure, without rectifier loss, site share or muting (the published
    models' worked values are stated that way).
    """
    return input_power_w(
        model.num_trx,
        model.p0_w,
        model.delta_p,
        model.max_tx_power_per_trx_w,
        model.p_sleep_w,
        prb_load,
        active,
    )


def deep_sleep_break_even_intervals(
    num_trx: npt.ArrayLike,
    p0_w: npt.ArrayLike,
    p_sleep_w: npt.ArrayLike,
    p_light_sleep_w: npt.ArrayLike,
    wake_lead_intervals: int,
) -> FloatArray:
    """Shortest sleep run (intervals) for which deep sleep uses less energy than light sleep.

    A deep-sleeping cell spends its last ``wake_lead_intervals`` waking at zero-load power (an
    assumption: powering a radio unit up and calibrating it takes minutes, not TR 38.864's
    50 ms); light sleep wakes within the interval. Over a run of ``n`` intervals
    ``E_deep = (n - w) P_deep + w P_0`` and ``E_light = n P_light``, so deep sleep wins for
    ``n > w (P_0 - P_deep) / (P_light - P_deep)``. TR 38.864's transition energies (Table
    5.1-2: 100 and 1000 relative units x ms, a few joules) are below 1e-5 of one interval's
    energy and are left out. Infinite where light sleep draws no more than deep sleep.
    """
    n = np.asarray(num_trx, dtype=np.float64)
    p_deep = n * np.asarray(p_sleep_w, dtype=np.float64)
    p_light = n * np.asarray(p_light_sleep_w, dtype=np.float64)
    p_zero = n * np.asarray(p0_w, dtype=np.float64)
    gap_w = p_light - p_deep
    with np.errstate(divide="ignore", invalid="ignore"):
        runs = wake_lead_intervals * (p_zero - p_deep) / gap_w
    return np.asarray(np.where(gap_w > 0, runs, np.inf), dtype=np.float64)


@dataclass(frozen=True)
class SiteBudgetRow:
    """One state of a site: the power of its coverage cells, capacity cells and common part."""

    state: str
    coverage_w: float
    capacity_w: float
    common_w: float

    @property
    def total_w(self) -> float:
        """Input power of the whole site, W."""
        return self.coverage_w + self.capacity_w + self.common_w


def site_power_budget(
    params: CellPowerArrays, capacity: npt.NDArray[np.bool_], muted_trx: int = 16
) -> tuple[SiteBudgetRow, ...]:
    """Return one site's power (``[C_site]`` arrays) in the states an operator compares.

    Idle (every cell on, no load), busy (every cell at full PRB load), capacity cells muted to
    ``muted_trx`` chains (no load), and capacity cells in light and in deep sleep with the
    coverage cells idle. Each cell's power is ``cell_power_w`` without its site share; the
    common part is the site's always-on power.
    """
    common_w = float(params.site_overhead_w.sum())
    bare = CellPowerArrays(**{**params.__dict__, "site_overhead_w": np.zeros_like(params.num_trx)})
    zero = np.zeros_like(params.num_trx)
    muted = np.where(capacity, np.minimum(muted_trx / params.num_trx, 1.0), 1.0)
    states = (
        ("idle: every cell on, no load", zero, True, 1.0, LIGHT_SLEEP),
        ("busy: every cell at full PRB load", zero + 1.0, True, 1.0, LIGHT_SLEEP),
        (f"capacity muted to {muted_trx} chains, no load", zero, True, muted, LIGHT_SLEEP),
        ("capacity in light sleep, coverage idle", zero, ~capacity, 1.0, LIGHT_SLEEP),
        ("capacity in deep sleep, coverage idle", zero, ~capacity, 1.0, DEEP_SLEEP),
    )
    rows = []
    for name, load, active, trx, sleep in states:
        watts = cell_power_w(bare, load, active, trx, sleep)
        rows.append(
            SiteBudgetRow(
                state=name,
                coverage_w=float(watts[~capacity].sum()),
                capacity_w=float(watts[capacity].sum()),
                common_w=common_w,
            )
        )
    return tuple(rows)
