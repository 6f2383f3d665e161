// Live charts (uPlot) over the last day of loop intervals, and the energy tiles.

import uPlot from "./vendor/uplot-1.6.31/uPlot.esm.js";

const CHART_HEIGHT_PX = 240;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(value, digits) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}

/** Interval label of a loop minute: "day 2 13:45". */
export function simLabel(simMin) {
  const day = Math.floor(simMin / 1440);
  const minute = simMin % 1440;
  const hh = String(Math.floor(minute / 60)).padStart(2, "0");
  const mm = String(minute % 60).padStart(2, "0");
  return `day ${day} ${hh}:${mm}`;
}

function chartOptions(width, unit, series) {
  return {
    width,
    height: CHART_HEIGHT_PX,
    scales: { x: { time: false } },
    axes: [
      {
        label: "network time (day, hh:mm)",
        incrs: [1, 2, 3, 6, 12, 24, 48, 96, 168],
        values: (u, ticks) => ticks.map((h) => simLabel(Math.round(h * 60))),
      },
      { label: unit },
    ],
    series: [
      { label: "interval", value: (u, h) => (h == null ? "—" : simLabel(Math.round(h * 60))) },
      ...series.map(([label, stroke]) => ({
        label, stroke, width: 2, value: (u, v) => (v == null ? "—" : `${v.toFixed(1)} ${unit}`),
      })),
    ],
  };
}

/** Columns for uPlot from the /loop/kpis rows (x in network hours since the loop's epoch). */
function columns(kpis) {
  const hours = kpis.map((k) => k.sim_min / 60);
  return {
    traffic: [hours, kpis.map((k) => k.offered_mbps), kpis.map((k) => k.served_mbps)],
    power: [hours, kpis.map((k) => k.power_w / 1000), kpis.map((k) => k.always_on_power_w / 1000)],
  };
}

function tile(label, value, sub, testid) {
  const box = el("div", "tile");
  box.dataset.testid = testid;
  box.append(el("div", "label", label), el("div", "value", value), el("div", "sub", sub));
  return box;
}

/** Fill the tiles from the /live, /loop/kpis and /loop/energy answers (any may be null). */
export function renderTiles(container, live, kpis, energy) {
  const tiles = [];
  for (const [key, label] of [["today", "Energy saved today"], ["week", "Energy saved this week"]]) {
    const e = energy?.[key];
    tiles.push(tile(
      label,
      e ? `${fmt(e.saved_kwh, 1)} kWh` : "—",
      e ? `${fmt(e.saved_pct, 1)} % of ${fmt(e.always_on_kwh, 1)} kWh always-on` : "closed loop not running",
      `energy-${key}`,
    ));
  }
  const violations = kpis ? kpis.reduce((sum, k) => sum + (k.violations || 0), 0) : null;
  tiles.push(tile("QoS violations (last day)", violations == null ? "—" : String(violations),
    kpis ? `over ${kpis.length} intervals` : "closed loop not running", "violations"));
  tiles.push(tile("Traffic now", live ? `${fmt(live.served_mbps, 0)} Mbit/s` : "—",
    live ? `of ${fmt(live.offered_mbps, 0)} Mbit/s offered` : "", "traffic-now"));
  tiles.push(tile("Power now", live ? `${fmt(live.power_w / 1000, 1)} kW` : "—",
    live ? `vs ${fmt(live.always_on_power_w / 1000, 1)} kW always-on` : "", "power-now"));
  container.replaceChildren(...tiles);
}

/** Two uPlot charts made on first data and updated in place; {update, resize}. */
export function createCharts(trafficEl, powerEl) {
  let traffic = null;
  let power = null;

  function update(kpis) {
    if (!kpis || kpis.length === 0) {
      for (const [node, plot] of [[trafficEl, traffic], [powerEl, power]]) {
        if (!plot) node.replaceChildren(el("p", "empty", "closed loop not running: no intervals yet"));
      }
      return;
    }
    const data = columns(kpis);
    if (!traffic) {
      trafficEl.replaceChildren();
      powerEl.replaceChildren();
      traffic = new uPlot(chartOptions(trafficEl.clientWidth || 480, "Mbit/s",
        [["offered", "#1f6feb"], ["served", "#2e7d32"]]), data.traffic, trafficEl);
      power = new uPlot(chartOptions(powerEl.clientWidth || 480, "kW",
        [["now", "#e66100"], ["always-on", "#5d6b78"]]), data.power, powerEl);
    } else {
      traffic.setData(data.traffic);
      power.setData(data.power);
    }
  }

  function resize() {
    if (traffic) traffic.setSize({ width: trafficEl.clientWidth, height: CHART_HEIGHT_PX });
    if (power) power.setSize({ width: powerEl.clientWidth, height: CHART_HEIGHT_PX });
  }

  return { update, resize };
}
