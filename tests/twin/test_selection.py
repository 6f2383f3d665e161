"""Cell selection: TS 38.304 priorities and thresholds, n78 support, SSB vs data beam."""

import numpy as np
import pytest

from ranopt.twin import Twin
from ranopt.twin.selection import PRIORITY_STEP_DB, band_supported, selection_rank_db


def test_rank_tiers_worked_values() -> None:
    """Q_rxlevmin -124 dBm, n78 threshX-HighP 10 dB: -110 dBm (Srxlev 14) is tier 2, -118 dBm
    (Srxlev 6) tier 0, below every n3 cell (priority 0, tier 1 once suitable)."""
    rsrp = np.array([-110.0, -118.0, -100.0])
    priority = np.array([1, 1, 0])
    thresh = np.array([10.0, 10.0, 0.0])
    rank = selection_rank_db(rsrp, priority, thresh, -124.0)
    np.testing.assert_allclose(
        rank, [-110.0 + 2 * PRIORITY_STEP_DB, -118.0, -100.0 + PRIORITY_STEP_DB]
    )
    order = np.argsort(-rank)
    np.testing.assert_array_equal(order, [0, 2, 1])


def test_band_support() -> None:
    supports = np.array([True, False])[:, None]
    bands = np.array(["n78", "n3"])[None, :]
    np.testing.assert_array_equal(band_supported(supports, bands), [[True, True], [False, True]])


def test_rsrp_is_the_ssb_beam_and_the_signal_the_data_beam(seven_site_twin: Twin) -> None:
    """On a capacity cell RSRP carries the 6 dB SSB beam, the served signal the 15 dB data beam:
    signal / (RSRP x subcarriers) is 9 dB above that ratio on a coverage cell (same pattern)."""
    twin = seven_site_twin
    link, arrays = twin.link, twin.arrays
    subcarriers = arrays.num_prb * 12
    rsrp_w = 10 ** (link.rsrp_dbm / 10) / 1000.0
    ratio_db = 10 * np.log10(link.signal_w / (rsrp_w * subcarriers[link.cell_idx]))
    cap = arrays.layer[link.cell_idx] == 1
    np.testing.assert_allclose(ratio_db[cap], 15.05 - 6.02, atol=1e-9)
    np.testing.assert_allclose(ratio_db[~cap], 0.0, atol=1e-9)


def test_share_of_ues_without_n78_and_in_high_loss_buildings(default_twin: Twin) -> None:
    """29 % of users lack n78 (Ericsson Mobility Report, Nov. 2024); half of the indoor places
    are high-loss buildings (TR 38.901 Table 7.8-1); binomial 4-sigma bounds."""
    ues = default_twin.ues
    users = ues.num_users
    without = float((~ues.supports_n78[:users]).mean())
    assert without == pytest.approx(0.29, abs=4 * np.sqrt(0.29 * 0.71 / users))
    indoor = ues.indoor
    high = float(ues.high_loss[indoor].mean())
    assert high == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / indoor.sum()))
    assert not ues.high_loss[~indoor].any()
    # a user's slots share its device
    np.testing.assert_array_equal(ues.supports_n78, ues.supports_n78[ues.user])
