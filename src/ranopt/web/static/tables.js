// Tables: optimization runs (filtered, paged, approve / reject), alerts and cell faults
// (acknowledge, resolve, repair), audit log. Every cell is set with textContent: nothing from
// the server is parsed as HTML.

import {
  byLoop, el, fixed, networkTime, percent, personName, statusLabel, wallTime, windowLabel,
} from "./format.js";

function td(text, className) {
  return el("td", className, text);
}

function emptyRow(text, columns, testid) {
  const tr = document.createElement("tr");
  const cell = td(text, "empty");
  cell.colSpan = columns;
  if (testid) cell.dataset.testid = testid;
  tr.append(cell);
  return tr;
}

/** A status badge: `data-status` carries the API's word, the text the reader's. */
export function statusBadge(status, testid, text) {
  const badge = el("span", `status status-${status}`, text ?? statusLabel(status));
  badge.dataset.status = status;
  if (testid) badge.dataset.testid = testid;
  return badge;
}

function button(label, className, data) {
  const b = el("button", className, label);
  b.type = "button";
  Object.assign(b.dataset, data);
  return b;
}

/** Approve / reject buttons of a waiting run (data-decision, data-run-id; test ids `prefix-`). */
export function decideButtons(run, prefix = "") {
  const box = el("div", "decide");
  box.append(
    button("Approve", "primary", { decision: "apply", runId: String(run.id), testid: `${prefix}approve-${run.id}` }),
    button("Reject", "danger", { decision: "reject", runId: String(run.id), testid: `${prefix}reject-${run.id}` }),
  );
  return box;
}

export const RUN_COLUMNS = 11;

/**
 * Render one page of runs into `tbody`; `canDecide(run)` says whether to show approve /
 * reject, `users` names the people, `networkId` makes each row's link to its detail view.
 */
export function renderRuns(tbody, runs, { canDecide, users, networkId, filtered }) {
  const rows = runs.map((run) => {
    const tr = document.createElement("tr");
    tr.className = "run-row";
    tr.dataset.runId = String(run.id);
    tr.dataset.testid = `run-${run.id}`;
    const link = el("a", null, String(run.id));
    link.href = `#/n/${networkId}/runs/${run.id}`;
    link.dataset.testid = `run-link-${run.id}`;
    const id = td("", "num");
    id.append(link);
    const status = td("");
    status.append(statusBadge(run.status, `run-status-${run.id}`));
    const decide = td("");
    if (canDecide(run)) decide.append(decideButtons(run));
    tr.append(
      id, td(networkTime(run.created_s)), td(run.objective),
      td(windowLabel(run.window_start_s, run.window_end_s)),
      td(byLoop(run) ? `${run.solver} · loop` : run.solver), status,
      td(fixed(run.confidence, 3), "num"), td(fixed(run.saving_pct, 1), "num"),
      td(run.num_actions == null ? "—" : String(run.num_actions), "num"),
      td(personName(run.decided_by, users)), decide,
    );
    return tr;
  });
  if (rows.length === 0) {
    rows.push(emptyRow(
      filtered ? "No runs match these filters." : "No optimization runs for this network yet.",
      RUN_COLUMNS, "runs-empty",
    ));
  }
  tbody.replaceChildren(...rows);
}

/**
 * An alert's message with loop interval numbers in network time: "in interval 1700" reads
 * "at 2026-01-22 17:00" (`loop`: {epoch_s, interval_s} of the network's loop, or null).
 */
export function readableMessage(message, loop) {
  if (!loop) return message;
  const at = (k) => networkTime(loop.epoch_s + Number(k) * loop.interval_s);
  return message
    .replace(/\bin interval (\d+)\b/g, (_, k) => `at ${at(k)}`)
    .replace(/\binterval (\d+)\b/g, (_, k) => at(k));
}

/** Whether an alert was closed because the fault behind it was repaired. */
function clearedByFault(alert) {
  return alert.status === "resolved" && alert.resolved_by === "system"
    && /^fault \d+ cleared/.test(alert.resolution ?? "");
}

function alertState(alert, users) {
  const cell = td("", "state");
  if (clearedByFault(alert)) {
    cell.append(statusBadge("cleared", `alert-state-${alert.id}`, "cleared"),
      el("small", "muted", ` ${alert.resolution}`));
  } else if (alert.status === "resolved") {
    cell.append(statusBadge("resolved", `alert-state-${alert.id}`),
      el("small", "muted", ` by ${personName(alert.resolved_by, users)}`));
  } else if (alert.status === "acknowledged") {
    cell.append(statusBadge("acknowledged", `alert-state-${alert.id}`),
      el("small", "muted", ` by ${personName(alert.acknowledged_by, users)}`));
  } else {
    cell.append(statusBadge("open", `alert-state-${alert.id}`));
  }
  return cell;
}

function triageButtons(alert) {
  const cell = td("");
  const box = el("div", "decide");
  if (alert.status === "open") {
    box.append(button("Acknowledge", null, {
      triage: "acknowledge", alertId: String(alert.id), testid: `acknowledge-${alert.id}`,
    }));
  }
  if (alert.status !== "resolved") {
    box.append(button("Resolve", null, {
      triage: "resolve", alertId: String(alert.id), testid: `resolve-${alert.id}`,
    }));
  }
  cell.append(box);
  return cell;
}

/**
 * Render alerts (newest first) into `tbody`: network time, network name, the message in
 * network time, the triage state and, for `canTriage`, acknowledge / resolve buttons.
 */
export function renderAlerts(tbody, alerts, { loop, users, canTriage }) {
  const rows = alerts.map((a) => {
    const tr = document.createElement("tr");
    tr.dataset.testid = `alert-${a.id}`;
    tr.dataset.status = a.status;
    const time = td(networkTime(a.network_time_s));
    time.title = `raised ${wallTime(a.created_s)} (wall clock)`;
    tr.append(
      time, td(a.severity, `severity-${a.severity}`), td(a.kind.replace(/_/g, " ")),
      td(a.network_name ?? "—"), td(readableMessage(a.message, loop), "message"),
      alertState(a, users), canTriage ? triageButtons(a) : td(""),
    );
    return tr;
  });
  if (rows.length === 0) rows.push(emptyRow("No alerts for this network.", 7, "alerts-empty"));
  tbody.replaceChildren(...rows);
}

/** Network time of a loop interval (null when unknown). */
function intervalTime(loop, k) {
  return loop && typeof k === "number" ? loop.epoch_s + k * loop.interval_s : null;
}

/** Render the network's cell faults (newest first) into `tbody`; `canRepair` adds "Repair". */
export function renderFaults(tbody, faults, { loop, users, canRepair }) {
  const rows = [...faults].reverse().map((f) => {
    const tr = document.createElement("tr");
    tr.dataset.testid = `fault-${f.id}`;
    const status = td("");
    status.append(statusBadge(f.status, `fault-status-${f.id}`));
    const repair = td("");
    if (canRepair && f.status !== "cleared") {
      repair.append(button("Repair", null, { repair: String(f.id), testid: `repair-${f.id}` }));
    }
    tr.append(
      td(f.cell_name), status, td(networkTime(intervalTime(loop, f.fault_interval))),
      td(networkTime(intervalTime(loop, f.compensated_interval))),
      td(percent(f.recovered_ratio, 0), "num"),
      td(f.lost_mbit == null ? "—" : `${(f.lost_mbit / 8000).toFixed(1)} GB`, "num"),
      td(f.cleared_at == null ? "—" : wallTime(Math.floor(f.cleared_at))),
      td(personName(f.requested_by, users)), repair,
    );
    return tr;
  });
  if (rows.length === 0) rows.push(emptyRow("No cell faults in this network.", 9, "faults-empty"));
  tbody.replaceChildren(...rows);
}

/** Render audit entries (newest first) into `tbody`. */
export function renderAudit(tbody, entries, { users }) {
  const rows = entries.map((e) => {
    const tr = document.createElement("tr");
    tr.append(td(String(e.id), "num"), td(wallTime(e.ts_s)), td(personName(e.actor, users)),
      td(e.action), td(e.target), td(e.outcome));
    return tr;
  });
  if (rows.length === 0) rows.push(emptyRow("No audit entries yet.", 6, "audit-empty"));
  tbody.replaceChildren(...rows);
}
