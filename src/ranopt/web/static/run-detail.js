// One optimization run: its window in network time, its confidence and expected figures,
// the decision, and every action of the plan per cell and interval.

import { decideButtons, statusBadge } from "./tables.js";
import {
  byLoop, clockTime, el, fixed, percent, personName, wallTime, windowLabel,
} from "./format.js";

function facts(rows, testid) {
  const dl = el("dl", "facts");
  dl.dataset.testid = testid;
  for (const [label, value, key] of rows) {
    const dd = el("dd", null, value);
    if (key) dd.dataset.testid = `run-fact-${key}`;
    dl.append(el("dt", null, label), dd);
  }
  return dl;
}

function expectedRows(plan) {
  const e = plan?.expected;
  if (!e) return [];
  return [
    ["expected energy", `${fixed(e.energy_kwh, 1)} kWh (always-on ${fixed(e.always_on_energy_kwh, 1)} kWh)`],
    ["lowest served share", percent(e.served_ratio_min)],
    ["highest PRB load", percent(e.max_prb_load)],
    ["lowest 5th-percentile UE throughput", `${fixed(e.ue_thp_p5_mbps_min, 2)} Mbit/s`],
    ["QoS constraint violations", String(e.constraint_violations ?? "—")],
  ];
}

function compensationRows(plan) {
  const c = plan?.compensation;
  if (!c) return [];
  return [
    ["failed cell", `${c.failed_cell} (${c.reason})`, "failed-cell"],
    ["traffic recovered", `${percent(c.recovered_ratio, 0)} (unaided ${percent(c.unaided_ratio, 0)})`],
    ["cells woken", String(c.woken?.length ?? 0)],
    ["held", "while the fault is open"],
  ];
}

/** The run's facts: who, when, the window, the confidence and what the plan expects. */
function runFacts(run, users) {
  const plan = run.plan;
  const confidence = typeof run.confidence === "number"
    ? `${run.confidence.toFixed(3)}: the share of the forecast's demand scenarios on which `
      + "the model keeps every QoS constraint"
    : "—";
  return facts([
    ["window (network time)", windowLabel(run.window_start_s, run.window_end_s), "window"],
    ["confidence", confidence, "confidence"],
    ["expected saving", run.saving_pct == null ? "—" : `${fixed(run.saving_pct, 1)} %`, "saving"],
    ...expectedRows(plan),
    ...compensationRows(plan),
    ["solver", `${run.solver}${plan?.solve ? ` (${plan.solve.status})` : ""}`],
    ["asked for by", `${byLoop(run) ? "closed loop" : personName(run.created_by, users)} · ${wallTime(run.created_s)}`],
    ["decided by", run.decided_by ? `${personName(run.decided_by, users)} · ${wallTime(run.decided_s)}` : "—", "decided"],
    ...(run.error ? [["error", run.error, "error"]] : []),
  ], "run-facts");
}

/**
 * Each cell's part in the plan, interval by interval: its action there ("sleep", "wake",
 * "cio 3"), else "asleep" while the plan keeps it asleep (`window.asleep` holds cell indices,
 * `cellNames` the network's cells in index order). Returns {cells, steps, at}: the cells the
 * plan touches, each interval's network time, and per cell one text per interval.
 */
export function actionsByCell(run, cellNames = []) {
  const plan = run.plan ?? {};
  const step = plan.interval_min ?? 15;
  const num = plan.num_intervals ?? 1;
  const t0 = plan.t0_min ?? 0;
  const start = run.window_start_s;
  const steps = Array.from({ length: num }, (_, i) => (typeof start === "number" ? start + i * step * 60 : null));
  const at = new Map();
  const row = (cell) => {
    if (!at.has(cell)) at.set(cell, Array(num).fill(""));
    return at.get(cell);
  };
  for (const a of plan.actions ?? []) {
    const i = Math.max(0, Math.min(num - 1, Math.round((a.t_min - t0) / step)));
    const value = a.value === undefined || a.value === null ? "" : ` ${a.value}`;
    const cells = row(a.cell);
    cells[i] = cells[i] ? `${cells[i]}, ${a.action}${value}` : `${a.action}${value}`;
  }
  (plan.window?.asleep ?? []).forEach((asleep, i) => {
    for (const index of asleep) {
      const name = cellNames[index];
      if (name !== undefined && i < num && !row(name)[i]) row(name)[i] = "asleep";
    }
  });
  const cells = [...at.keys()].sort();
  return { cells, steps, at };
}

function actionTable(run, cellNames) {
  const { cells, steps, at } = actionsByCell(run, cellNames);
  if (cells.length === 0) {
    const empty = el("p", "empty", run.plan ? "The plan changes nothing: every cell stays as it is." : "No plan (the run did not finish).");
    empty.dataset.testid = "run-actions-empty";
    return empty;
  }
  const table = el("table", "actions-grid");
  table.dataset.testid = "run-actions";
  const head = document.createElement("tr");
  head.append(el("th", null, "cell"), ...steps.map((s) => el("th", "num", s === null ? "—" : clockTime(s))));
  const thead = document.createElement("thead");
  thead.append(head);
  const asleep = run.plan?.sleeping_cells_per_interval;
  if (Array.isArray(asleep)) {
    const counts = document.createElement("tr");
    counts.className = "muted";
    counts.append(el("th", null, "cells asleep"), ...asleep.map((n) => el("td", "num", String(n))));
    thead.append(counts);
  }
  const tbody = document.createElement("tbody");
  for (const cell of cells) {
    const tr = document.createElement("tr");
    tr.dataset.cell = cell;
    tr.append(el("th", null, cell), ...at.get(cell).map((text) => el("td", text ? `act act-${text.split(" ")[0].replace(/,$/, "")}` : "", text)));
    tbody.append(tr);
  }
  table.append(thead, tbody);
  const wrap = el("div", "table-wrap");
  wrap.append(table);
  return wrap;
}

/**
 * Render `run` (GET /optimizations/{id}) into `container`: heading with status and, when
 * `canDecide`, approve / reject; its facts; every action per cell and interval.
 */
export function renderRunDetail(container, run, { users, canDecide, networkId, cellNames }) {
  const back = el("a", "back", "← all runs");
  back.href = `#/n/${networkId}/runs`;
  back.dataset.testid = "runs-back";
  const head = el("div", "run-head");
  const title = el("h1", null, `Run ${run.id} · ${run.objective}`);
  head.append(title, statusBadge(run.status, "run-detail-status"));
  if (canDecide) head.append(decideButtons(run, "detail-"));
  const count = run.num_actions ?? 0;
  const { cells } = actionsByCell(run, cellNames);
  container.replaceChildren(
    back, head, runFacts(run, users),
    el("h2", null, `Actions: ${count}; cells the plan puts or keeps asleep, or changes: ${cells.length}`),
    el("p", "muted", "sleep / wake: the plan switches the cell at that interval; asleep: it stays asleep"),
    actionTable(run, cellNames),
  );
}
