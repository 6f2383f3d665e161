"""The emulator's back-fill: parallel worker processes write exactly what one worker writes.

Days are independent (each day's demand comes from the seed and the day), so the back-fill
runs them in worker processes; the PM files and ground truth must not depend on how many.
Also the admin route that points the VES agent at a collector refuses what is not a URL.
"""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from ranopt.emulate.a1 import admin_app
from ranopt.emulate.process import Emulator, EmulatorConfig

START = datetime(2026, 1, 21, tzinfo=UTC)


def _backfill(run_dir: Path, workers: int) -> Emulator:
    emulator = Emulator(
        EmulatorConfig(
            run_dir=run_dir, seed=5, num_sites=7, num_ues=120, start=START, backfill_workers=workers
        )
    )
    asyncio.run(emulator.backfill(2))
    return emulator


def test_parallel_backfill_writes_what_one_worker_writes(tmp_path: Path) -> None:
    one = _backfill(tmp_path / "one", 1)
    two = _backfill(tmp_path / "two", 2)
    files = sorted(p.name for p in (tmp_path / "one" / "pm").glob("*.xml"))
    assert len(files) == 2 * 96
    assert files == sorted(p.name for p in (tmp_path / "two" / "pm").glob("*.xml"))
    for name in files:
        assert (tmp_path / "one" / "pm" / name).read_bytes() == (
            tmp_path / "two" / "pm" / name
        ).read_bytes(), name
    truth_one = (tmp_path / "one" / "truth.jsonl").read_text().splitlines()
    assert truth_one == (tmp_path / "two" / "truth.jsonl").read_text().splitlines()
    # in time order, the two days before the start, every cell on, history only
    first = one.start_s(one.next_interval - 2 * 96)
    assert truth_one[0].startswith(f'{{"interval":{one.next_interval - 2 * 96},"start_s":{first}')
    assert all('"phase":"history"' in line and '"asleep":[]' in line for line in truth_one)
    assert two.next_interval == one.next_interval  # the live clock did not move


def test_admin_ves_route_points_the_agent_and_refuses_a_non_url() -> None:
    pointed: list[str | None] = []

    async def never(*_: object) -> dict[str, object]:
        raise AssertionError

    def collector(url: str | None) -> dict[str, object]:
        pointed.append(url)
        return {"ves_url": url}

    app = admin_app("t0ken", fault=never, advance=never, status=dict, collector=collector)
    auth = {"Authorization": "Bearer t0ken"}
    with TestClient(app) as client:
        url = "http://127.0.0.1:8000/eventListener/v7?network_id=3"
        assert client.post("/admin/ves", json={"url": url}, headers=auth).json() == {"ves_url": url}
        bad = client.post("/admin/ves", json={"url": "file:///etc/passwd"}, headers=auth)
        assert bad.status_code == 422
        assert "url" in bad.text
        assert client.post("/admin/ves", json={"url": None}).status_code == 401
    assert pointed == [url]
