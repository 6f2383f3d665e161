"""Shared fixtures: a throwaway PostgreSQL cluster and a store on each backend."""

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ranopt.store.engine import Store, make_engine, open_store
from ranopt.store.schemas import TopologyIn
from ranopt.store.tables import Base
from ranopt.twin.model import Twin
from ranopt.twin.simulate import IntervalKpis

ROOT = Path(__file__).resolve().parents[1]
# The specs are read in place: shared/ inside the checkout, or beside it (../shared).
SPECS = next(
    (p for p in (ROOT / "shared" / "specs", ROOT.parent / "shared" / "specs") if p.is_dir()),
    ROOT.parent / "shared" / "specs",
)


def pg_bin(name: str) -> str:
    """Return the path of a PostgreSQL server binary (initdb, pg_ctl, pg_dump, ...)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        pytest.fail(f"{name} not found: run `make postgres` (installs Debian's postgresql)")
    return str(candidates[-1])


class PostgresCluster:
    """A PostgreSQL cluster in a temporary directory, listening on a unix socket only."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ranopt-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        with socket.socket() as s:  # a free port number names the socket file
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # initdb refuses to run as root: run the server as the postgres system user then.
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, user="postgres")
        self.root.chmod(0o755)

    def run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True)  # noqa: S603

    def start(self) -> None:
        self.run(pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                 "-E", "UTF8", "--no-sync")  # fmt: skip
        options = (
            f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self.run(pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-l",
                 str(self.root / "log"), "start")  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def create_database(self, name: str) -> str:
        engine = make_engine(self.url())
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        try:
            self.run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(cluster.root, ignore_errors=True)
        raise
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
    """The shared spec files, read in place (a missing directory fails, it does not skip)."""
    assert SPECS.is_dir(), f"shared specs not found at {SPECS}"
    return SPECS


@pytest.fixture(scope="session")
def small_twin_run() -> tuple[Twin, IntervalKpis]:
    """A 7-site twin (42 cells) simulated over 8 intervals from midnight."""
    from ranopt.twin import CellState, build_twin, scenario_preset, simulate
    from ranopt.twin.traffic import demand_for_intervals

    twin = build_twin(scenario_preset("default", seed=0, num_sites=7, num_ues=300))
    demand = demand_for_intervals(twin.traffic, 0, 0, 44)[36:]  # 09:00-11:00, traffic up
    kpis = simulate(twin, demand, CellState.all_on(twin.num_cells), t0_min=9 * 60)
    return twin, kpis
