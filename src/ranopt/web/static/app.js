// ranopt operations dashboard: hash routes, login, network picker, and the polling loop.
//   #/login · #/networks · #/n/<network id>/<tab>   (tab: map charts runs calibration alerts audit)

import {
  ApiError, api, apiOptional, clearToken, decodeClaims, getToken, isExpired, login,
  setToken, setUnauthorizedHandler,
} from "./api.js";
import { createCellMap } from "./map.js";
import { createCharts, renderTiles } from "./charts.js";
import { renderAlerts, renderAudit, renderRuns } from "./tables.js";
import { renderCalibration } from "./calibration.js";

const POLL_MS = 2000;
const TABS = ["map", "charts", "runs", "calibration", "alerts", "audit"];
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
  networks: [],
  networkId: null,
  tab: null,
  generation: 0, // bumped on every navigation: answers for an older one are dropped
  pollTimer: null,
  map: null,
  mapNetworkId: null,
  charts: null,
  expandedRuns: new Set(),
  lastRunsJson: "",
  runs: null,
  notice: null, // shown once by the next route (e.g. why we are back at the login)
};

function can(permission) {
  return (ROLE_PERMISSIONS[state.claims?.role] ?? []).includes(permission);
}

function showError(message) {
  const box = $("error");
  box.textContent = message ?? "";
  box.hidden = !message;
}

function showView(name) {
  for (const section of document.querySelectorAll("main > .view")) {
    section.hidden = section.id !== `view-${name}`;
  }
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
    return false;
  }
  state.claims = claims;
  return true;
}

function renderChrome() {
  const signedIn = Boolean(state.claims);
  $("logout").hidden = !signedIn;
  $("whoami").textContent = signedIn ? `${state.claims.sub} · ${state.claims.role}` : "";
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
        ["loop time", `day ${live.day} ${String(Math.floor(live.minute_of_day / 60)).padStart(2, "0")}:${String(live.minute_of_day % 60).padStart(2, "0")}`],
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
  const [live, kpis, energy] = await Promise.all([
    apiOptional(`${base}/live`),
    apiOptional(`${base}/loop/kpis?limit=96`),
    apiOptional(`${base}/loop/energy`),
  ]);
  if (generation !== state.generation) return;
  setLoopStatus(live !== null);
  if (!state.charts) state.charts = createCharts($("chart-traffic"), $("chart-power"));
  renderTiles($("tiles"), live, kpis, energy);
  state.charts.update(kpis);
  markReady("charts");
}

function renderRunsNow(runs) {
  renderRuns($("runs").tBodies[0], runs, {
    expanded: state.expandedRuns,
    canDecide: (run) => run.status === "succeeded" && can("execute"),
  });
}

async function refreshRuns(networkId, generation) {
  const runs = await api(`/api/v2/optimizations?network_id=${networkId}`);
  if (generation !== state.generation) return;
  const text = JSON.stringify(runs);
  if (text !== state.lastRunsJson || !document.body.dataset.ready) {
    state.lastRunsJson = text;
    state.runs = runs;
    renderRunsNow(runs);
  }
  markReady("runs");
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
  const alerts = await api(`/api/v2/networks/${networkId}/alerts`);
  if (generation !== state.generation) return;
  renderAlerts($("alerts").tBodies[0], alerts);
  markReady("alerts");
}

async function refreshAudit(networkId, generation) {
  const entries = await api("/api/v2/audit");
  if (generation !== state.generation) return;
  renderAudit($("audit").tBodies[0], entries);
  markReady("audit");
}

const REFRESH = {
  map: refreshMap, charts: refreshCharts, runs: refreshRuns, calibration: refreshCalibration,
  alerts: refreshAlerts, audit: refreshAudit,
};

// ---- polling: only the visible network and tab, paused while the page is hidden ------------

function stopPolling() {
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function schedulePoll() {
  stopPolling();
  if (document.hidden || state.networkId === null || !state.tab) return;
  state.pollTimer = setTimeout(poll, POLL_MS);
}

async function poll() {
  const generation = state.generation;
  try {
    await REFRESH[state.tab](state.networkId, generation);
  } catch (error) {
    if (generation === state.generation) showError(messageOf(error));
  }
  if (generation === state.generation) schedulePoll();
}

function messageOf(error) {
  if (error instanceof ApiError) return `${error.status}: ${error.detail}`;
  return String(error?.message ?? error);
}

// ---- routing -------------------------------------------------------------------------------

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "n" && /^\d+$/.test(parts[1] ?? "")) {
    const tab = TABS.includes(parts[2]) ? parts[2] : "map";
    return { page: "network", networkId: Number(parts[1]), tab };
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
    if (state.networks.length === 0 || target.page === "networks") await loadNetworks();
    if (generation !== state.generation) return;
    if (target.page === "networks") {
      state.networkId = null;
      state.tab = null;
      renderChrome();
      renderNetworkList();
      showView("networks");
      markReady("networks");
      return;
    }
    let { tab } = target;
    if (TAB_NEEDS[tab] && !can(TAB_NEEDS[tab])) tab = "map";
    if (state.networkId !== target.networkId) {
      state.expandedRuns.clear();
      state.lastRunsJson = "";
    }
    state.networkId = target.networkId;
    state.tab = tab;
    renderNetworkSelect();
    renderChrome();
    showView(tab);
    if (tab === "map" && state.map) state.map.invalidate();
    await REFRESH[tab](target.networkId, generation);
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
  state.networks = [];
  state.networkId = null;
  state.mapNetworkId = null;
  location.hash = "#/login";
  route();
}

async function decide(button) {
  const runId = Number(button.dataset.runId);
  const decision = button.dataset.decision;
  button.disabled = true;
  try {
    await api(`/api/v2/optimizations/${runId}/${decision}`, { method: "POST" });
    showError("");
    state.lastRunsJson = "";
    await refreshRuns(state.networkId, state.generation);
  } catch (error) {
    showError(messageOf(error));
    button.disabled = false;
  }
}

function onRunsClick(event) {
  const button = event.target.closest("button[data-decision]");
  if (button) {
    decide(button);
    return;
  }
  const row = event.target.closest("tr.run-row");
  if (!row) return;
  const id = Number(row.dataset.runId);
  if (state.expandedRuns.has(id)) state.expandedRuns.delete(id);
  else state.expandedRuns.add(id);
  if (state.runs) renderRunsNow(state.runs);
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
  $("runs").tBodies[0].addEventListener("click", onRunsClick);
  $("calibrate-now").addEventListener("click", (event) => calibrateNow(event.currentTarget));
  $("network-select").addEventListener("change", (event) => {
    location.hash = `#/n/${event.target.value}/${state.tab ?? "map"}`;
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", onResize);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopPolling();
    else if (state.networkId !== null) poll();
  });
  route();
}

start();
