// Tables: optimization runs (expandable, approve / reject), alerts, audit log.
// Every cell is set with textContent: nothing from the server is parsed as HTML.

import { simLabel } from "./charts.js";

function td(text, className) {
  const cell = document.createElement("td");
  if (className) cell.className = className;
  cell.textContent = text;
  return cell;
}

/** Epoch seconds as "YYYY-MM-DD HH:MM" UTC. */
export function utc(seconds) {
  if (typeof seconds !== "number") return "—";
  return `${new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function fixed(value, digits) {
  return typeof value === "number" ? value.toFixed(digits) : "—";
}

/** A loop plan's window in network time, e.g. "day 14 19:15 · 60 min" ("—" for others). */
function windowOf(run) {
  const window = run.plan?.window;
  const step = run.plan?.interval_min;
  if (!window || typeof step !== "number") return "—";
  return `${simLabel(window.first_interval * step)} · ${window.asleep.length * step} min`;
}

function actionsOf(run) {
  return Array.isArray(run.plan?.actions) ? run.plan.actions : [];
}

function actionList(run) {
  const actions = actionsOf(run);
  if (actions.length === 0) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = run.plan ? "The plan changes nothing." : "No plan (run not finished).";
    return empty;
  }
  const list = document.createElement("ol");
  list.className = "action-list";
  for (const a of actions) {
    const item = document.createElement("li");
    const value = a.value === undefined || a.value === null ? "" : ` = ${a.value}`;
    item.textContent = `${a.cell} · t+${a.t_min} min · ${a.action}${value}`;
    list.append(item);
  }
  return list;
}

function decideButtons(run) {
  const cell = document.createElement("td");
  if (!run.canDecide) return cell;
  const box = document.createElement("div");
  box.className = "decide";
  for (const [decision, label, className] of [["apply", "Approve", "primary"], ["reject", "Reject", "danger"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.textContent = label;
    button.dataset.decision = decision;
    button.dataset.runId = String(run.id);
    button.dataset.testid = `${decision === "apply" ? "approve" : "reject"}-${run.id}`;
    box.append(button);
  }
  cell.append(box);
  return cell;
}

/**
 * Render runs into `tbody`. `canDecide(run)` says whether to show approve / reject;
 * rows whose id is in `expanded` show their actions below.
 */
export function renderRuns(tbody, runs, { expanded, canDecide }) {
  const rows = [];
  for (const run of runs) {
    const tr = document.createElement("tr");
    tr.className = "run-row";
    tr.dataset.runId = String(run.id);
    tr.dataset.testid = `run-${run.id}`;
    const status = td("");
    const badge = document.createElement("span");
    badge.className = `status status-${run.status}`;
    badge.textContent = run.status;
    badge.dataset.testid = `run-status-${run.id}`;
    status.append(badge);
    tr.append(
      td(String(run.id), "num"), td(utc(run.created_s)), td(run.objective), td(windowOf(run)),
      td(run.solver), status,
      td(fixed(run.confidence, 3), "num"), td(fixed(run.saving_pct, 1), "num"),
      td(String(actionsOf(run).length), "num"), td(run.decided_by ?? "—"),
      decideButtons({ ...run, canDecide: canDecide(run) }),
    );
    tr.setAttribute("aria-expanded", String(expanded.has(run.id)));
    rows.push(tr);
    if (expanded.has(run.id)) {
      const detail = document.createElement("tr");
      detail.className = "actions-row";
      detail.dataset.testid = `run-actions-${run.id}`;
      const cell = document.createElement("td");
      cell.colSpan = 11;
      cell.append(actionList(run));
      detail.append(cell);
      rows.push(detail);
    }
  }
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const cell = td("No optimization runs for this network yet.", "empty");
    cell.colSpan = 11;
    tr.append(cell);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
}

/** Render alerts (newest first) into `tbody`. */
export function renderAlerts(tbody, alerts) {
  tbody.replaceChildren(...alerts.map((a) => {
    const tr = document.createElement("tr");
    tr.append(td(utc(a.created_s)), td(a.severity), td(a.kind),
      td(a.network_id == null ? "—" : String(a.network_id), "num"), td(a.message, "message"));
    return tr;
  }));
}

/** Render audit entries (newest first) into `tbody`. */
export function renderAudit(tbody, entries) {
  tbody.replaceChildren(...entries.map((e) => {
    const tr = document.createElement("tr");
    tr.append(td(String(e.id), "num"), td(utc(e.ts_s)), td(e.actor), td(e.action), td(e.target),
      td(e.outcome));
    return tr;
  }));
}
