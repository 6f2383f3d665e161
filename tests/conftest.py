"""Shared fixtures: a throwaway PostgreSQL cluster and a store on each backend."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings
from sqlalchemy import text

from ranopt.store.engine import Store, open_store
from ranopt.store.pgcluster import PostgresCluster
from ranopt.store.schemas import TopologyIn
from ranopt.store.tables import Base
from ranopt.twin.model import Twin
from ranopt.twin.simulate import IntervalKpis
from spec_files import require_specs

if TYPE_CHECKING:
    from emulator_world import RanWorld

# CI replays the same hypothesis examples every run (a red build must mean a changed result,
# not a newly drawn example); a developer's run explores new ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Durable commits cost an fsync each (about 5 ms here): the suite runs SQLite as it runs its
# PostgreSQL cluster, without fsync at every commit (a killed process still loses nothing);
# the kill -9 tests set FULL for the servers they start, as production runs.
os.environ.setdefault("RANOPT_SQLITE_SYNCHRONOUS", "NORMAL")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL server for the whole session (fails, never skips, without one)."""
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def pg_url(pg_cluster: PostgresCluster) -> str:
    url = pg_cluster.create_database("ranopt_test")
    open_store(url).dispose()  # migrate once
    return url


def _truncate_all(store: Store) -> None:
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with store.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each backend: a fresh SQLite file or an emptied PostgreSQL DB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ranopt.db'}"
    url: str = request.getfixturevalue("pg_url")
    store = open_store(url)
    _truncate_all(store)
    store.dispose()
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An open, migrated, empty store on each backend."""
    opened = open_store(db_url)
    yield opened
    opened.dispose()


def make_topology(
    num_sites: int = 3, name: str = "three-site", interval_s: int = 900
) -> TopologyIn:
    """A small network: ``num_sites`` sites x 3 sectors x 2 layers, named like the twin's."""
    from ranopt.store.schemas import CellIn, NetworkIn, SiteIn, SliceIn

    prefix = "DC=ranopt.test,SubNetwork=lab"
    sites = [
        SiteIn(name=f"S{i:03d}", x_m=500.0 * i, y_m=0.0, height_m=25.0) for i in range(num_sites)
    ]
    cells = []
    for i in range(num_sites):
        for k, layer in enumerate(
            ("coverage", "coverage", "coverage", "capacity", "capacity", "capacity")
        ):
            me = f"{prefix},ManagedElement=gNB-S{i:03d}"
            cells.append(
                CellIn(
                    name=f"S{i:03d}-{k % 3 + 1}-{layer[:3]}",
                    site=f"S{i:03d}",
                    dn=f"{me},GNBDUFunction=1,NRCellDU={k + 1}",
                    cu_dn=f"{me},GNBCUCPFunction=1,NRCellCU={k + 1}",
                    nci=((i + 1) << 14) | (k + 1),
                    layer=layer,
                    sector=k % 3,
                    azimuth_deg=[30.0, 150.0, 270.0][k % 3],
                    carrier_ghz=2.1 if layer == "coverage" else 3.5,
                    bandwidth_mhz=20.0 if layer == "coverage" else 100.0,
                    scs_khz=15 if layer == "coverage" else 30,
                    num_prb=106 if layer == "coverage" else 273,
                    max_tx_power_w=80.0 if layer == "coverage" else 200.0,
                )
            )
    return TopologyIn(
        network=NetworkIn(name=name, interval_s=interval_s, dn_prefix=prefix),
        sites=sites,
        cells=cells,
        slices=[SliceIn(name="eMBB", sst=1), SliceIn(name="URLLC", sst=2, sd="0003e8")],
    )


@pytest.fixture
def three_site_topology() -> TopologyIn:
    return make_topology()


@pytest.fixture
def topology_factory() -> Callable[..., TopologyIn]:
    return make_topology


@pytest.fixture
def specs() -> Path:
    """The shared spec files, read in place (absent: skip with the reason; under CI: fail)."""
    return require_specs()


@pytest.fixture(scope="session")
def small_twin_run() -> tuple[Twin, IntervalKpis]:
    """A 7-site twin (42 cells) simulated over 8 intervals from midnight."""
    from ranopt.twin import CellState, build_twin, scenario_preset, simulate
    from ranopt.twin.traffic import demand_for_intervals

    twin = build_twin(scenario_preset("default", seed=0, num_sites=7, num_ues=300))
    demand = demand_for_intervals(twin.traffic, 0, 0, 44)[36:]  # 09:00-11:00, traffic up
    kpis = simulate(twin, demand, CellState.all_on(twin.num_cells), t0_min=9 * 60)
    return twin, kpis


@pytest.fixture(scope="session")
def ran_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator["RanWorld"]:
    """One ``ranopt emulate`` process and one ranopt server for the session (loopback only).

    The network ``emulated`` is registered from the topology the emulator serves (built here
    from the same preset, then checked against its ``topology.json``) so that the emulator can
    be started with its VES collector URL; the emulator runs on a manual clock.
    """
    from emulator_world import RanWorld, RunningEmulator, emulator_start, start_server
    from ranopt.emulate.topology import build_topology
    from ranopt.twin import build_twin, scenario_preset

    root = tmp_path_factory.mktemp("ran")
    server = start_server(root / "ranopt.db")
    topology = build_topology(build_twin(scenario_preset("default", seed=7)), "emulated").topology
    with server.client() as client:
        created = client.post("/api/v2/networks", json=topology.model_dump(mode="json"))
    assert created.status_code == 201, created.text
    network_id = created.json()["id"]
    key_file = root / "api-key"
    key_file.write_text(server.api_key)
    key_file.chmod(0o600)
    ves_url = f"{server.base}/eventListener/v7?network_id={network_id}"
    emulator = RunningEmulator(root / "emu", [
        "--pace", "0", "--start", emulator_start(), "--ves-url", ves_url,
        "--api-key-file", str(key_file),
    ])  # fmt: skip
    try:
        emulator.start()
        assert emulator.topology == topology, "the emulator serves another topology"
        yield RanWorld(server=server, emulator=emulator, network_id=network_id)
    finally:
        emulator.stop()
        server.stop()
