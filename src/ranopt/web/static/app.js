// ranopt operations dashboard: hash routes, login, network picker, and the polling loop.
//   #/login · #/networks · #/n/<network id>/<tab>   (tab: map charts runs calibration alerts audit)
//   #/n/<network id>/runs/<run id>                 (one run: its window, confidence, actions)

import {
  ApiError, api, apiOptional, apiPage, clearToken, decodeClaims, getToken, isExpired, login,
  setToken, setUnauthorizedHandler,
} from "./api.js";
import { createCellMap } from "./map.js";
import {
  annotationsOf, createCharts, renderAnnotationList, renderTiles,
} from "./charts.js";
import { renderAlerts, renderAudit, renderFaults, renderRuns } from "./tables.js";
import { renderRunDetail } from "./run-detail.js";
import { renderCalibration } from "./calibration.js";
import { networkTime, personName } from "./format.js";

const POLL_MS = 2000;
const TABS = ["map", "charts", "runs", "calibration", "alerts", "audit"];
const RUNS_PAGE = 50;
const WAITING = "awaiting_approval";
// mirrors ranopt.api.permissions (display only: the server enforces)
const ROLE_PERMISSIONS = {
  network_admin: ["read", "write", "execute"],
  security_analyst: ["read", "investigate"],
  viewer: ["read"],
};
const TAB_NEEDS = { audit: "investigate" };

const $ = (id) => document.getElementById(id);

const state = {
  claims: null,
  users: null, // Map user id -> username (people's names instead of "user:3")
  networks: [],
  networkId: null,
  tab: null,
  view: null,
  runId: null,
  generation: 0, // bumped on every navigation: answers for an older one are dropped
  pollTimer: null,
  map: null,
  mapNetworkId: null,
  charts: null,
  chartRange: 96,
  cellNames: new Map(), // network id -> its cells' names in id order (plans name cells by index)
  runsFilter: { status: "", objective: "", source: "" },
  runsPages: [null], // before_id of each page seen (null: the newest)
  lastRunsJson: "",
  notice: null, // shown once by the next route (e.g. why we are back at the login)
  feedback: null, // {text, kind}: what a decision did, kept across the next refresh
};

function can(permission) {
  return (ROLE_PERMISSIONS[state.claims?.role] ?? []).includes(permission);
}

function showError(message) {
  const box = $("error");
  box.textContent = message ?? "";
  box.hidden = !message;
}

/** Say what a decision did ("ok") or why it was refused ("error"); null hides it. */
function showFeedback(feedback) {
  state.feedback = feedback;
  const box = $("feedback");
  box.textContent = feedback?.text ?? "";
  box.dataset.kind = feedback?.kind ?? "";
  box.hidden = !feedback;
}

function showView(name) {
  for (const section of document.querySelectorAll("main > .view")) {
    section.hidden = section.id !== `view-${name}`;
  }
  state.view = name;
  document.body.dataset.view = name;
  delete document.body.dataset.ready;
}

/** Mark a view as rendered with data (tests and the benchmark wait for this). */
function markReady(name) {
  if (document.body.dataset.ready === name) return;
  document.body.dataset.ready = name;
  performance.mark(`ready:${name}`);
}

function setLoopStatus(running) {
  const badge = $("loop-status");
  badge.hidden = false;
  badge.dataset.state = running ? "running" : "stopped";
  badge.textContent = running ? "closed loop running" : "closed loop not running";
}

function loadSession() {
  const token = getToken();
  const claims = decodeClaims(token);
  if (!token || isExpired(claims)) {
    clearToken();
    state.claims = null;
    state.users = null;
    return false;
  }
  state.claims = claims;
  return true;
}

/** The tenant's users by id, once per session (every role may read them). */
async function loadUsers() {
  if (state.users) return;
  const users = await api("/api/v2/users");
  state.users = new Map(users.map((u) => [u.id, u.username]));
}

function renderChrome() {
  const signedIn = Boolean(state.claims);
  $("logout").hidden = !signedIn;
  $("whoami").textContent = signedIn
    ? `${personName(state.claims.sub, state.users)} · ${state.claims.role.replace(/_/g, " ")}`
    : "";
  document.body.dataset.role = signedIn ? state.claims.role : "";
  const inNetwork = signedIn && state.networkId !== null;
  $("tabs").hidden = !inNetwork;
  document.querySelector(".net-select").hidden = !inNetwork;
  if (!inNetwork) $("loop-status").hidden = true;
  for (const link of $("tabs").querySelectorAll("a[data-tab]")) {
    const tab = link.dataset.tab;
    link.hidden = Boolean(link.dataset.needs) && !can(link.dataset.needs);
    link.href = `#/n/${state.networkId}/${tab}`;
    if (tab === state.tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function renderNetworkSelect() {
  const select = $("network-select");
  select.replaceChildren(...state.networks.map((n) => {
    const option = document.createElement("option");
    option.value = String(n.id);
    option.textContent = `${n.name} (${n.num_cells} cells)`;
    return option;
  }));
  if (state.networkId !== null) select.value = String(state.networkId);
}

async function loadNetworks() {
  state.networks = await api("/api/v2/networks");
  renderNetworkSelect();
}

function currentNetwork() {
  return state.networks.find((n) => n.id === state.networkId) ?? null;
}

/** The loop's clock for network-time conversions: {epoch_s, interval_s}, or null. */
function loopClock(loop) {
  const network = currentNetwork();
  return loop && network ? { epoch_s: loop.epoch_s, interval_s: network.interval_s } : null;
}

function renderNetworkList() {
  const list = $("network-list");
  if (state.networks.length === 0) {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = "No networks in this tenant yet.";
    list.replaceChildren(empty);
    return;
  }
  list.replaceChildren(...state.networks.map((n) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `#/n/${n.id}/map`;
    link.dataset.testid = `network-${n.id}`;
    link.textContent = n.name;
    const info = document.createElement("small");
    info.textContent = `${n.num_cells} cells · interval ${n.interval_s / 60} min`;
    link.append(info);
    item.append(link);
    return item;
  }));
}

// ---- per-view data -------------------------------------------------------------------------

async function refreshMap(networkId, generation) {
  if (!state.map) state.map = createCellMap($("map"));
  if (state.mapNetworkId !== networkId) {
    const [sites, cells] = await Promise.all([
      api(`/api/v2/networks/${networkId}/sites`),
      api(`/api/v2/networks/${networkId}/cells`),
    ]);
    if (generation !== state.generation) return;
    state.map.invalidate();
    state.map.setNetwork(sites, cells);
    state.mapNetworkId = networkId;
  }
  const live = await apiOptional(`/api/v2/networks/${networkId}/live`);
  if (generation !== state.generation) return;
  setLoopStatus(live !== null);
  const started = performance.now();
  state.map.update(live);
  performance.measure("map:update", { start: started, end: performance.now() });
  renderLiveNow(live);
  markReady("map");
}

function renderLiveNow(live) {
  const rows = live
    ? [
        ["network time", networkTime(live.start_s)],
        ["offered", `${live.offered_mbps.toFixed(0)} Mbit/s`],
        ["served", `${live.served_mbps.toFixed(0)} Mbit/s`],
        ["power", `${(live.power_w / 1000).toFixed(1)} kW`],
        ["always-on", `${(live.always_on_power_w / 1000).toFixed(1)} kW`],
      ]
    : [["live state", "closed loop not running"]];
  $("live-now").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    return [dt, dd];
  }));
}

async function refreshCharts(networkId, generation) {
  const base = `/api/v2/networks/${networkId}`;
  const runs = `/api/v2/optimizations?network_id=${networkId}&plans=false`;
  const limit = state.chartRange;
  const [live, kpis, energy, loop, faults, applied, waiting] = await Promise.all([
    apiOptional(`${base}/live`),
    apiOptional(`${base}/loop/kpis?limit=${limit}`),
    apiOptional(`${base}/loop/energy`),
    apiOptional(`${base}/loop?live=false`),
    api(`${base}/faults`),
    api(`${runs}&status=applied&limit=${Math.min(limit + 8, 1000)}`),
    apiPage(`${runs}&status=${WAITING}&limit=1`),
  ]);
  if (generation !== state.generation) return;
  setLoopStatus(live !== null);
  if (!state.charts) {
    state.charts = createCharts($("chart-traffic"), $("chart-power"), (zoom) => {
      $("reset-zoom").disabled = zoom === null;
    });
  }
  renderTiles($("tiles"), { live, kpis, energy, loop, faults, waiting: waiting.total });
  const notes = annotationsOf({ faults, applied, loop: loopClock(loop), users: state.users, kpis });
  const first = kpis?.[0]?.start_s ?? -Infinity;
  const inRange = notes.filter((n) => (n.end_s ?? n.start_s) >= first);
  state.charts.update(kpis, inRange);
  renderAnnotationList($("chart-annotations"), inRange);
  markReady("charts");
}

function runsQuery(networkId) {
  const params = new URLSearchParams({
    network_id: String(networkId), limit: String(RUNS_PAGE), plans: "false",
  });
  for (const [key, value] of Object.entries(state.runsFilter)) {
    if (value) params.set(key, value);
  }
  const before = state.runsPages.at(-1);
  if (before !== null) params.set("before_id", String(before));
  return `/api/v2/optimizations?${params}`;
}

async function refreshRuns(networkId, generation) {
  const { body: runs, total } = await apiPage(runsQuery(networkId));
  if (generation !== state.generation) return;
  const text = JSON.stringify([runs, total]);
  if (text !== state.lastRunsJson || !document.body.dataset.ready) {
    state.lastRunsJson = text;
    const filtered = Object.values(state.runsFilter).some(Boolean);
    renderRuns($("runs").tBodies[0], runs, {
      canDecide: (run) => run.status === WAITING && can("execute"),
      users: state.users, networkId, filtered,
    });
    const first = (state.runsPages.length - 1) * RUNS_PAGE;
    $("runs-page").textContent = runs.length
      ? `runs ${first + 1}–${first + runs.length} of ${total}`
      : `${total} runs`;
    $("runs-newer").disabled = state.runsPages.length <= 1;
    $("runs-older").disabled = runs.length < RUNS_PAGE || first + runs.length >= total;
    $("runs-older").dataset.next = runs.length ? String(runs.at(-1).id) : "";
  }
  markReady("runs");
}

async function cellNamesOf(networkId) {
  if (!state.cellNames.has(networkId)) {
    const cells = await api(`/api/v2/networks/${networkId}/cells`);
    state.cellNames.set(networkId, cells.map((c) => c.name));
  }
  return state.cellNames.get(networkId);
}

async function refreshRun(networkId, generation) {
  const runId = state.runId;
  const [run, cellNames] = await Promise.all([
    api(`/api/v2/optimizations/${runId}`), cellNamesOf(networkId),
  ]);
  if (generation !== state.generation) return;
  if (run.network_id !== networkId) throw new ApiError(404, `run ${runId} is not one of this network's`);
  const text = JSON.stringify(run);
  if (text !== state.lastRunsJson || !document.body.dataset.ready) {
    state.lastRunsJson = text;
    renderRunDetail($("run-detail"), run, {
      users: state.users, canDecide: run.status === WAITING && can("execute"), networkId,
      cellNames,
    });
  }
  markReady("run");
}

async function refreshCalibration(networkId, generation) {
  const stored = await apiOptional(`/api/v2/networks/${networkId}/calibration`);
  if (generation !== state.generation) return;
  $("calibrate-now").hidden = !can("write");
  renderCalibration($("calibration"), stored);
  markReady("calibration");
}

async function calibrateNow(button) {
  button.disabled = true;
  const networkId = state.networkId;
  try {
    await api(`/api/v2/networks/${networkId}/calibration`, { method: "POST" });
    showError("");
    await refreshCalibration(networkId, state.generation);
  } catch (error) {
    showError(messageOf(error));
  } finally {
    button.disabled = false;
  }
}

async function refreshAlerts(networkId, generation) {
  // the network's operational alerts (outages, weak plans, loop errors): any reader
  const base = `/api/v2/networks/${networkId}`;
  const [alerts, faults, loop] = await Promise.all([
    api(`${base}/alerts`), api(`${base}/faults`), apiOptional(`${base}/loop?live=false`),
  ]);
  if (generation !== state.generation) return;
  const clock = loopClock(loop);
  renderAlerts($("alerts").tBodies[0], alerts, { loop: clock, users: state.users, canTriage: can("write") });
  renderFaults($("faults").tBodies[0], faults, { loop: clock, users: state.users, canRepair: can("execute") });
  markReady("alerts");
}

async function refreshAudit(networkId, generation) {
  const entries = await api("/api/v2/audit");
  if (generation !== state.generation) return;
  renderAudit($("audit").tBodies[0], entries, { users: state.users });
  markReady("audit");
}

const REFRESH = {
  map: refreshMap, charts: refreshCharts, runs: refreshRuns, run: refreshRun,
  calibration: refreshCalibration, alerts: refreshAlerts, audit: refreshAudit,
};

// ---- polling: only the visible network and view, paused while the page is hidden -----------

function stopPolling() {
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function schedulePoll() {
  stopPolling();
  if (document.hidden || state.networkId === null || !state.view) return;
  state.pollTimer = setTimeout(poll, POLL_MS);
}

async function poll() {
  const generation = state.generation;
  try {
    await REFRESH[state.view](state.networkId, generation);
  } catch (error) {
    if (generation === state.generation) showError(messageOf(error));
  }
  if (generation === state.generation) schedulePoll();
}

/** Refresh the visible view now (after a decision), without waiting for the next poll. */
async function refreshNow() {
  stopPolling();
  state.lastRunsJson = "";
  await poll();
}

function messageOf(error) {
  if (error instanceof ApiError) return `${error.status}: ${error.detail}`;
  return String(error?.message ?? error);
}

// ---- routing -------------------------------------------------------------------------------

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "n" && /^\d+$/.test(parts[1] ?? "")) {
    if (parts[2] === "runs" && /^\d+$/.test(parts[3] ?? "")) {
      return { page: "network", networkId: Number(parts[1]), tab: "runs", runId: Number(parts[3]) };
    }
    const tab = TABS.includes(parts[2]) ? parts[2] : "map";
    return { page: "network", networkId: Number(parts[1]), tab, runId: null };
  }
  return { page: parts[0] === "login" ? "login" : "networks" };
}

async function route() {
  state.generation += 1;
  const generation = state.generation;
  stopPolling();
  showError(state.notice ?? "");
  state.notice = null;
  if (!loadSession()) {
    state.networkId = null;
    state.tab = null;
    state.view = null;
    showFeedback(null);
    renderChrome();
    showView("login");
    if (location.hash !== "#/login") history.replaceState(null, "", "#/login");
    markReady("login");
    return;
  }
  const target = parseHash();
  if (target.page === "login") {
    location.hash = "#/networks";
    return;
  }
  try {
    await Promise.all([
      state.networks.length === 0 || target.page === "networks" ? loadNetworks() : null,
      loadUsers(),
    ]);
    if (generation !== state.generation) return;
    if (target.page === "networks") {
      state.networkId = null;
      state.tab = null;
      state.view = null;
      renderChrome();
      renderNetworkList();
      showView("networks");
      markReady("networks");
      return;
    }
    let { tab } = target;
    if (TAB_NEEDS[tab] && !can(TAB_NEEDS[tab])) tab = "map";
    if (state.networkId !== target.networkId) {
      state.runsPages = [null];
      state.lastRunsJson = "";
    }
    state.networkId = target.networkId;
    state.tab = tab;
    state.runId = tab === "runs" ? target.runId : null;
    const view = state.runId !== null ? "run" : tab;
    state.lastRunsJson = "";
    renderNetworkSelect();
    renderChrome();
    showView(view);
    if (tab === "map" && state.map) state.map.invalidate();
    await REFRESH[view](target.networkId, generation);
  } catch (error) {
    if (generation === state.generation) showError(messageOf(error));
  }
  if (generation === state.generation) schedulePoll();
}

// ---- events --------------------------------------------------------------------------------

async function onLogin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const fields = Object.fromEntries(new FormData(form).entries());
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    setToken(await login(fields));
    form.reset();
    state.networks = [];
    state.users = null;
    location.hash = "#/networks";
    if (parseHash().page === "networks") await route();
  } catch (error) {
    const hint = error instanceof ApiError && error.status === 401
      ? "Invalid credentials. If your account has a second factor, enter the current TOTP code."
      : messageOf(error);
    showError(hint);
  } finally {
    button.disabled = false;
  }
}

function onLogout() {
  clearToken();
  state.claims = null;
  state.users = null;
  state.networks = [];
  state.networkId = null;
  state.mapNetworkId = null;
  location.hash = "#/login";
  route();
}

/** Approve or reject a run; say what happened, or why the server refused. */
async function decide(button) {
  const runId = Number(button.dataset.runId);
  const approve = button.dataset.decision === "apply";
  for (const b of document.querySelectorAll(`button[data-run-id="${runId}"]`)) b.disabled = true;
  try {
    const run = await api(`/api/v2/optimizations/${runId}/${button.dataset.decision}`, { method: "POST" });
    const from = typeof run.window_start_s === "number" ? `: its plan runs from ${networkTime(run.window_start_s)} (network time)` : "";
    showFeedback(approve
      ? { text: `Run ${runId} approved and applied${from}.`, kind: "ok" }
      : { text: `Run ${runId} rejected: its plan will not be applied.`, kind: "ok" });
  } catch (error) {
    const why = error instanceof ApiError ? error.detail : messageOf(error);
    showFeedback({ text: `Run ${runId} was not ${approve ? "approved" : "rejected"}: ${why}`, kind: "error" });
  }
  await refreshNow();
}

async function triage(button) {
  const alertId = button.dataset.alertId;
  const verb = button.dataset.triage;
  button.disabled = true;
  try {
    await api(`/api/v2/networks/${state.networkId}/alerts/${alertId}/${verb}`, { method: "POST" });
    showFeedback({ text: `Alert ${alertId} ${verb === "acknowledge" ? "acknowledged" : "resolved"}.`, kind: "ok" });
  } catch (error) {
    showFeedback({ text: `Alert ${alertId} not ${verb}d: ${error.detail ?? messageOf(error)}`, kind: "error" });
  }
  await refreshNow();
}

async function repair(button) {
  const faultId = button.dataset.repair;
  button.disabled = true;
  try {
    const fault = await api(`/api/v2/networks/${state.networkId}/faults/${faultId}`, { method: "DELETE" });
    showFeedback({ text: `${fault.cell_name} repaired: the loop returns it to service at its next interval.`, kind: "ok" });
  } catch (error) {
    showFeedback({ text: `Fault ${faultId} not repaired: ${error.detail ?? messageOf(error)}`, kind: "error" });
  }
  await refreshNow();
}

function onMainClick(event) {
  const decision = event.target.closest("button[data-decision]");
  if (decision) {
    decide(decision);
    return;
  }
  const triageButton = event.target.closest("button[data-triage]");
  if (triageButton) {
    triage(triageButton);
    return;
  }
  const repairButton = event.target.closest("button[data-repair]");
  if (repairButton) {
    repair(repairButton);
    return;
  }
  const row = event.target.closest("tr.run-row");
  if (row && !event.target.closest("a, button")) {
    location.hash = `#/n/${state.networkId}/runs/${row.dataset.runId}`;
  }
}

function onRunsFilter(event) {
  const field = event.target.name;
  if (!(field in state.runsFilter)) return;
  state.runsFilter[field] = event.target.value;
  state.runsPages = [null];
  showFeedback(null);
  refreshNow();
}

function onRunsPage(older) {
  if (older) {
    const next = Number($("runs-older").dataset.next);
    if (!next) return;
    state.runsPages.push(next);
  } else if (state.runsPages.length > 1) {
    state.runsPages.pop();
  }
  refreshNow();
}

function onResize() {
  if (state.charts) state.charts.resize();
  if (state.map && state.tab === "map") state.map.invalidate();
}

function start() {
  setUnauthorizedHandler(() => {
    clearToken();
    state.notice = "Your session has ended: sign in again.";
    if (location.hash === "#/login") route();
    else location.hash = "#/login";
  });
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  document.querySelector("main").addEventListener("click", onMainClick);
  $("runs-filters").addEventListener("change", onRunsFilter);
  $("runs-older").addEventListener("click", () => onRunsPage(true));
  $("runs-newer").addEventListener("click", () => onRunsPage(false));
  $("chart-range").addEventListener("change", (event) => {
    state.chartRange = Number(event.target.value);
    state.charts?.resetZoom();
    refreshNow();
  });
  $("reset-zoom").addEventListener("click", () => state.charts?.resetZoom());
  $("calibrate-now").addEventListener("click", (event) => calibrateNow(event.currentTarget));
  $("network-select").addEventListener("change", (event) => {
    location.hash = `#/n/${event.target.value}/${state.tab ?? "map"}`;
  });
  window.addEventListener("hashchange", () => {
    showFeedback(null);
    route();
  });
  window.addEventListener("resize", onResize);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopPolling();
    else if (state.networkId !== null) poll();
  });
  route();
}

start();
