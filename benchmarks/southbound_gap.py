"""Where the southbound loop's saving differs from the twin-internal loop's, interval by interval.

Reads what ``benchmarks/southbound_loop.py --keep DIR`` leaves behind for one seed
(``DIR/SEED``: the southbound loop's store, the twin-internal loop's store and the
emulator's ground truth, ``truth.jsonl``) and compares the two loops on the live intervals
both ran, from day 14 00:00 on: energy of (a) by the emulator's own per-cell energy and of
(b) by the twin's own per-cell ``PEE.Energy`` counters, each cell's sleeping and muted
intervals (the plans in force: the newest applied plan covering the interval, its window's
``asleep`` / ``muted``), by hour of day and by cell. Prints one JSON object.
"""

import argparse
import json
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

LOOP_EPOCH_S = 1767571200  # ranopt.store.loops.LOOP_EPOCH (2026-01-05 00:00 UTC)
INTERVAL_S = 900
LIVE_FIRST = 14 * 96  # day 14 00:00: the first live interval of both loops


def live_truth(path: Path) -> list[dict[str, Any]]:
    """The emulator's live rows, oldest first."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if '"live"' in line]
    return sorted(rows, key=lambda r: r["start_s"])


def muted_in_force(db: Path, to_index: Any) -> dict[int, dict[int, int]]:
    """Index -> {cell: chains} of the newest applied plan covering it (``to_index`` maps a
    plan's first interval to the live index)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        "select id, plan from optimization_runs where status = 'applied' order by id"
    ).fetchall()
    out: dict[int, dict[int, int]] = {}
    for _, plan_text in rows:
        plan = json.loads(plan_text) if plan_text else {}
        window = plan.get("window") or {}
        if plan.get("compensation") or window.get("first_interval") is None:
            continue
        first = to_index(int(window["first_interval"]))
        for i, muted in enumerate(window.get("muted") or []):
            out[first + i] = {int(c): int(n) for c, n in muted}
    return out


def twin_energy(db: Path, count: int) -> list[list[float]]:
    """Per live index, the twin loop's per-cell ``PEE.Energy`` (cells in id order)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    ids = [r[0] for r in con.execute("select id from cells order by id")]
    column = {cid: c for c, cid in enumerate(ids)}
    first_s = LOOP_EPOCH_S + LIVE_FIRST * INTERVAL_S
    energy = [[0.0] * len(ids) for _ in range(count)]
    for start_s, cell_id, kwh in con.execute(
        "select interval_start_s, cell_id, pee_energy_kwh from kpi_samples "
        "where interval_start_s >= ?",
        (first_s,),
    ):
        i = (start_s - first_s) // INTERVAL_S
        if 0 <= i < count and kwh is not None:
            energy[i][column[cell_id]] = float(kwh)
    return energy


def twin_asleep(db: Path) -> dict[int, set[int]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    return {
        int(k) - LIVE_FIRST: set(json.loads(a))
        for k, a in con.execute(
            "select interval, asleep from loop_intervals where phase = 'loop' and interval >= ?",
            (LIVE_FIRST,),
        )
    }


def compare(keep: Path, names: list[str] | None = None) -> dict[str, Any]:
    """Compare the two loops on the live intervals both ran (see the module docstring)."""
    truth = live_truth(keep / "truth.jsonl")
    asleep_b = twin_asleep(keep / "twin.db")
    count = min(len(truth), len(asleep_b))
    energy_b = twin_energy(keep / "twin.db", count)
    live0_s = truth[0]["start_s"]
    first_loop = None
    con = sqlite3.connect(f"file:{keep / 'southbound.db'}?mode=ro", uri=True)
    rows = con.execute("select min(interval) from loop_intervals").fetchall()
    con.close()
    if rows and rows[0][0] is not None:
        first_loop = int(rows[0][0])  # the southbound loop's first accounted (live) interval

    def sb_index(loop_interval: int) -> int:
        return loop_interval - (first_loop or 0)

    muted_a = muted_in_force(keep / "southbound.db", sb_index)
    muted_b = muted_in_force(keep / "twin.db", lambda j: j - LIVE_FIRST)
    num_cells = len(truth[0]["energy_kwh"])
    if names is None:  # the twin's cells in id order: the twin's (and emulator's) cell order
        con = sqlite3.connect(f"file:{keep / 'twin.db'}?mode=ro", uri=True)
        names = [r[0] for r in con.execute("select name from cells order by id")]
    hours: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cells: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for i in range(count):
        row = truth[i]
        hour = ((row["start_s"] - live0_s) % 86400) // 3600
        a_asleep, b_asleep = set(row["asleep"]), asleep_b.get(i, set())
        for c in range(num_cells):
            ea, eb = row["energy_kwh"][c], energy_b[i][c]
            ma, mb = c in muted_a.get(i, {}), c in muted_b.get(i, {})
            for key, value in (
                ("a_kwh", ea), ("b_kwh", eb), ("always_on_kwh", row["always_on_energy_kwh"][c]),
                ("a_asleep", c in a_asleep), ("b_asleep", c in b_asleep),
                ("a_muted", ma and c not in a_asleep), ("b_muted", mb and c not in b_asleep),
                ("asleep_b_only", c in b_asleep - a_asleep),
                ("asleep_a_only", c in a_asleep - b_asleep),
            ):  # fmt: skip
                hours[hour][key] += float(value)
                cells[c][key] += float(value)
    total = {k: sum(h[k] for h in hours.values()) for k in ("a_kwh", "b_kwh", "always_on_kwh")}
    saving_a = 1.0 - total["a_kwh"] / total["always_on_kwh"]
    saving_b = 1.0 - total["b_kwh"] / total["always_on_kwh"]

    def rounded(d: dict[str, float]) -> dict[str, float]:
        return {k: round(v, 3) for k, v in d.items()}

    by_cell = sorted(cells.items(), key=lambda kv: kv[1]["b_kwh"] - kv[1]["a_kwh"])
    return {
        "intervals_compared": count,
        "energy_kwh": rounded(total),
        "saving_pct": {"southbound": round(100 * saving_a, 2), "twin": round(100 * saving_b, 2)},
        "share_of_twin_saving": round(saving_a / saving_b, 4) if saving_b else None,
        "by_hour": {
            h: rounded({**v, "gap_kwh": v["a_kwh"] - v["b_kwh"]}) for h, v in sorted(hours.items())
        },
        "cells_most_behind": [
            {"cell": names[c], **rounded({**v, "gap_kwh": v["a_kwh"] - v["b_kwh"]})}
            for c, v in by_cell[:8]
        ],
    }


def main() -> None:
    """Print the comparison of one kept run as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("keep", type=Path, help="a seed's folder from southbound_loop.py --keep")
    args = parser.parse_args()
    print(json.dumps(compare(args.keep), indent=2))


if __name__ == "__main__":
    main()
