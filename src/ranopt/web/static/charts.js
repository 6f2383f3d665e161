// Live charts (uPlot) over the loop's intervals in network time: a time-range picker, drag
// to zoom (both charts together, "Reset zoom" or a double click undoes it), annotations for
// cell faults and applied plans, and the energy tiles with why a saving is what it is.

import uPlot from "./vendor/uplot-1.6.31/uPlot.esm.js";
import {
  clockTime, dayLabel, el, fixed, networkTime, personName, windowLabel,
} from "./format.js";

const CHART_HEIGHT_PX = 260;
// uPlot's axis font; tick spacing is measured in it so that no two labels touch
const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';
const TICK_GAP_PX = 16;
const SAVING_EPSILON = 0.005; // below half a percent the network runs as if always on
const COLOURS = { fault: "rgba(214, 39, 40, 0.14)", faultLine: "#d62728", person: "#1f6feb", loop: "rgba(31, 111, 235, 0.45)", compensation: "#e66100" };

let measureCtx = null;

/** Width in CSS px of the widest line of `text` in the axis font. */
export function labelWidthPx(text) {
  measureCtx ??= document.createElement("canvas").getContext("2d");
  measureCtx.font = AXIS_FONT;
  return Math.max(...String(text).split("\n").map((line) => measureCtx.measureText(line).width));
}

/** Tick labels: the clock, and the day under the first tick and wherever the day changes. */
function tickLabels(splits) {
  let day = null;
  return splits.map((s) => {
    const today = dayLabel(s);
    const label = today !== day ? `${clockTime(s)}\n${today}` : clockTime(s);
    day = today;
    return label;
  });
}

// the widest label a tick can have (a clock and a day), plus a gap: uPlot keeps ticks apart
const TICK_SPACE = () => labelWidthPx("00:00\nWed 30 Sep") + TICK_GAP_PX;

function fmt(value, digits) {
  return fixed(value, digits);
}

/** Columns for uPlot from the /loop/kpis rows (x: network time, epoch seconds). */
function columns(kpis) {
  const x = kpis.map((k) => k.start_s);
  return {
    traffic: [x, kpis.map((k) => k.offered_mbps), kpis.map((k) => k.served_mbps)],
    power: [x, kpis.map((k) => k.power_w / 1000), kpis.map((k) => k.always_on_power_w / 1000)],
  };
}

function tile(label, value, sub, testid) {
  const box = el("div", "tile");
  box.dataset.testid = testid;
  box.append(el("div", "label", label), el("div", "value", value), el("div", "sub", sub));
  return box;
}

/**
 * Why the network saves what it saves now, in a sentence an operator can act on. `world`:
 * {live, loop, faults, waiting} (the /live and /loop answers, the network's faults, and how
 * many plans await approval); null when the loop does not run.
 */
export function explainSaving(world) {
  const { live, loop, faults, waiting } = world;
  if (!live) return { saving: null, why: "closed loop not running" };
  const saving = live.always_on_power_w > 0 ? 1 - live.power_w / live.always_on_power_w : 0;
  const asleep = live.cells.filter((c) => c.state === "asleep").length;
  if (saving > SAVING_EPSILON && asleep > 0) {
    return { saving, why: `${asleep} of ${live.cells.length} cells asleep` };
  }
  const open = (faults ?? []).filter((f) => ["active", "compensated"].includes(f.status));
  if (open.length > 0) {
    const names = open.map((f) => f.cell_name).join(", ");
    return {
      saving,
      why: `all cells held awake: compensation for ${names} (plans made before the failure `
        + "were voided until a new one is applied)",
    };
  }
  if (waiting > 0 && loop && !loop.auto_apply) {
    return { saving, why: `nothing applied: ${waiting} plan(s) await approval (auto-apply is off)` };
  }
  if (waiting > 0) {
    return {
      saving,
      why: `nothing applied: the newest plan's confidence is below ${fmt(loop?.confidence_threshold, 2)}, it awaits approval`,
    };
  }
  return { saving, why: "every cell is needed: at this traffic the plan keeps all cells on" };
}

/** Fill the tiles from the loop's answers (any may be null when the loop does not run). */
export function renderTiles(container, { live, kpis, energy, loop, faults, waiting }) {
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
  tiles.push(tile("QoS violations (shown range)", violations == null ? "—" : String(violations),
    kpis ? `over ${kpis.length} intervals` : "closed loop not running", "violations"));
  tiles.push(tile("Traffic now", live ? `${fmt(live.served_mbps, 0)} Mbit/s` : "—",
    live ? `of ${fmt(live.offered_mbps, 0)} Mbit/s offered` : "", "traffic-now"));
  const { saving, why } = explainSaving({ live, loop, faults, waiting });
  const now = tile("Saving now", saving == null ? "—" : `${fmt(100 * saving, 1)} %`,
    live ? `${fmt(live.power_w / 1000, 1)} kW vs ${fmt(live.always_on_power_w / 1000, 1)} kW always-on` : "",
    "saving-now");
  const reason = el("div", "why", why);
  reason.dataset.testid = "saving-explained";
  now.append(reason);
  tiles.push(now);
  tiles.push(paceTile(loop?.pace));
  container.replaceChildren(...tiles);
}

/** The loop's achieved pace: the slower of its target tick and its median step time. */
function paceTile(pace) {
  if (!pace) return tile("Pace", "—", "closed loop not running", "pace");
  const steps = `steps ${fmt(pace.step_s_median, 2)} s median, ${fmt(pace.step_s_p95, 2)} s p95`;
  const sub = pace.behind
    ? `behind the ${fmt(pace.target_s, 1)} s target: ${steps}`
    : `target ${fmt(pace.target_s, 1)} s; ${steps}`;
  return tile("Pace", `1 interval / ${fmt(pace.seconds_per_interval, 1)} s`, sub, "pace");
}

/**
 * Annotations from the network's faults and applied runs, in network time:
 * [{kind: "fault" | "plan" | "loop-plan" | "compensation", start_s, end_s, label}].
 */
export function annotationsOf({ faults, applied, loop, users, kpis }) {
  const notes = [];
  const at = (k) => (loop && typeof k === "number" ? loop.epoch_s + k * loop.interval_s : null);
  const rows = kpis ?? [];
  for (const f of faults ?? []) {
    const start = at(f.fault_interval);
    if (start === null) continue;
    // the fault lasts while the loop's intervals report its cell failed (none in the range
    // shown: it ended before, or has not begun; it is drawn one interval long)
    const failed = rows.filter((k) => k.start_s >= start && k.failed.includes(f.cell_index));
    const lastFailed = failed.at(-1);
    const after = lastFailed ? rows.find((k) => k.start_s > lastFailed.start_s) : null;
    const end = after ? after.start_s : (lastFailed?.start_s ?? start) + loop.interval_s;
    notes.push({ kind: "fault", start_s: start, end_s: end, label: `${f.cell_name} failed`, status: f.status });
  }
  for (const run of applied ?? []) {
    if (typeof run.window_start_s !== "number") continue;
    if (run.objective === "compensation") {
      notes.push({ kind: "compensation", start_s: run.window_start_s, end_s: null, label: `compensation (run ${run.id})` });
    } else if (run.created_by === "ranopt:loop" && run.decided_by === "ranopt:loop") {
      notes.push({ kind: "loop-plan", start_s: run.window_start_s, end_s: run.window_end_s, label: `plan ${run.id}` });
    } else {
      notes.push({
        kind: "plan", start_s: run.window_start_s, end_s: run.window_end_s,
        label: `plan ${run.id} applied by ${personName(run.decided_by, users)}`,
      });
    }
  }
  return notes.sort((a, b) => a.start_s - b.start_s);
}

const LABEL_ROWS = 3;

/**
 * Place each label in the first row where it overlaps no label already placed (left of its
 * line when it would leave the plot); labels with no free row are left out (the list under
 * the charts has them all). Returns [{note, x, y, align}] in canvas pixels.
 */
function placeLabels(ctx, marks, bbox, dpr) {
  const rows = Array.from({ length: LABEL_ROWS }, () => []);
  const placed = [];
  const gap = 6 * dpr;
  for (const { note, x } of marks) {
    const width = ctx.measureText(note.label).width;
    const right = x + gap + width <= bbox.left + bbox.width;
    const span = right ? [x + gap, x + gap + width] : [x - gap - width, x - gap];
    const row = rows.findIndex((taken) => taken.every(([a, b]) => span[1] + gap < a || span[0] > b + gap));
    if (row < 0) continue;
    rows[row].push(span);
    placed.push({ note, x: right ? span[0] : span[1], y: bbox.top + (20 + 13 * row) * dpr, align: right ? "left" : "right" });
  }
  return placed;
}

/** A uPlot plugin that draws the annotations behind the series. */
function annotationPlugin(getNotes) {
  function draw(u) {
    const notes = getNotes();
    if (!notes.length) return;
    const { ctx } = u;
    const { top, height, left, width } = u.bbox;
    const dpr = uPlot.pxRatio;
    const xMin = u.scales.x.min;
    const xMax = u.scales.x.max;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    const labelled = [];
    for (const n of notes) {
      if (n.start_s > xMax || (n.end_s ?? n.start_s) < xMin) continue;
      const x0 = u.valToPos(Math.max(n.start_s, xMin), "x", true);
      if (n.kind === "fault") {
        const x1 = u.valToPos(Math.min(n.end_s ?? xMax, xMax), "x", true);
        ctx.fillStyle = COLOURS.fault;
        ctx.fillRect(x0, top, Math.max(x1 - x0, 2 * dpr), height);
        ctx.fillStyle = COLOURS.faultLine;
        ctx.fillRect(x0, top, 2 * dpr, height);
        labelled.push({ note: n, x: x0 });
      } else if (n.kind === "loop-plan") {
        ctx.fillStyle = COLOURS.loop;
        ctx.fillRect(x0, top, 1 * dpr, 6 * dpr);
      } else {
        ctx.fillStyle = n.kind === "compensation" ? COLOURS.compensation : COLOURS.person;
        ctx.fillRect(x0, top, 2 * dpr, height);
        labelled.push({ note: n, x: x0 });
      }
    }
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.textBaseline = "alphabetic";
    for (const { note, x, y, align } of placeLabels(ctx, labelled, u.bbox, dpr)) {
      ctx.textAlign = align;
      ctx.fillStyle = note.kind === "fault" ? COLOURS.faultLine
        : note.kind === "compensation" ? COLOURS.compensation : COLOURS.person;
      ctx.fillText(note.label, x, y);
    }
    ctx.restore();
  }
  return { hooks: { drawClear: [draw] } };
}

/** The annotations in words, under the charts (faults and plans a person applied). */
export function renderAnnotationList(container, notes) {
  const items = [];
  const loopPlans = notes.filter((n) => n.kind === "loop-plan").length;
  for (const n of notes) {
    if (n.kind === "loop-plan") continue;
    const li = el("li", `note note-${n.kind}`);
    li.dataset.kind = n.kind;
    if (n.kind === "fault") {
      const state = n.status === "cleared" ? "repaired" : "still open";
      li.textContent = `${windowLabel(n.start_s, n.end_s)}: ${n.label} (${state})`;
    } else {
      li.textContent = `${networkTime(n.start_s)}: ${n.label}`;
    }
    items.push(li);
  }
  if (loopPlans > 0) {
    items.push(el("li", "note note-loop-plan", `${loopPlans} plans applied by the closed loop (ticks along the top)`));
  }
  if (items.length === 0) items.push(el("li", "muted", "No faults or applied plans in this range."));
  container.replaceChildren(...items);
}

function chartOptions(width, unit, series, getNotes, sync) {
  return {
    width,
    height: CHART_HEIGHT_PX,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    scales: { x: { time: true } },
    cursor: { sync: { key: "ranopt-charts", setSeries: false }, drag: { x: true, y: false, setScale: true } },
    axes: [
      {
        label: "network time (UTC)",
        space: TICK_SPACE,
        values: (u, splits) => tickLabels(splits),
        font: AXIS_FONT,
      },
      { label: unit, font: AXIS_FONT },
    ],
    series: [
      { label: "interval", value: (u, s) => (s == null ? "—" : networkTime(s)) },
      ...series.map(([label, stroke]) => ({
        label, stroke, width: 2, value: (u, v) => (v == null ? "—" : `${v.toFixed(1)} ${unit}`),
      })),
    ],
    plugins: [annotationPlugin(getNotes)],
    hooks: { setScale: [sync], draw: [recordTicks] },
  };
}

/** Keep the x ticks drawn, as [position px, label], on the chart's element (for checks). */
function recordTicks(u) {
  const axis = u.axes[0];
  const splits = axis._splits ?? [];
  const labels = axis._values ?? [];
  const ticks = splits.map((s, i) => [Math.round(u.valToPos(s, "x") * 10) / 10, String(labels[i] ?? "")]);
  u.root.parentElement.dataset.xTicks = JSON.stringify(ticks);
  u.root.parentElement.dataset.xMin = String(u.scales.x.min);
  u.root.parentElement.dataset.xMax = String(u.scales.x.max);
}

/**
 * Two uPlot charts made on first data and updated in place. Dragging across one zooms both;
 * a zoom survives the polls until `resetZoom` (or a double click). Returns
 * {update(kpis, notes), resize, resetZoom, zoomed()}.
 */
export function createCharts(trafficEl, powerEl, onZoom) {
  let traffic = null;
  let power = null;
  let notes = [];
  let zoom = null; // {min, max} while zoomed
  let updating = false;
  let data = null;

  function sync(u, key) {
    if (key !== "x" || updating) return;
    const { min, max } = u.scales.x;
    const full = data && min <= data.traffic[0][0] && max >= data.traffic[0].at(-1);
    zoom = full ? null : { min, max };
    updating = true;
    for (const other of [traffic, power]) {
      if (other && other !== u) other.setScale("x", { min, max });
    }
    updating = false;
    onZoom?.(zoom);
  }

  function update(kpis, annotations) {
    notes = annotations ?? [];
    if (!kpis || kpis.length === 0) {
      for (const [node, plot] of [[trafficEl, traffic], [powerEl, power]]) {
        if (!plot) node.replaceChildren(el("p", "empty", "closed loop not running: no intervals yet"));
      }
      return;
    }
    data = columns(kpis);
    updating = true;
    if (!traffic) {
      trafficEl.replaceChildren();
      powerEl.replaceChildren();
      traffic = new uPlot(chartOptions(trafficEl.clientWidth || 480, "Mbit/s",
        [["offered", "#1f6feb"], ["served", "#2e7d32"]], () => notes, sync), data.traffic, trafficEl);
      power = new uPlot(chartOptions(powerEl.clientWidth || 480, "kW",
        [["now", "#e66100"], ["always-on", "#5d6b78"]], () => notes, sync), data.power, powerEl);
    } else {
      traffic.setData(data.traffic, zoom === null);
      power.setData(data.power, zoom === null);
      if (zoom !== null) {
        traffic.setScale("x", zoom);
        power.setScale("x", zoom);
      }
    }
    updating = false;
  }

  function resetZoom() {
    zoom = null;
    if (!data) return;
    updating = true;
    traffic.setData(data.traffic, true);
    power.setData(data.power, true);
    updating = false;
    onZoom?.(null);
  }

  function resize() {
    if (traffic) traffic.setSize({ width: trafficEl.clientWidth, height: CHART_HEIGHT_PX });
    if (power) power.setSize({ width: powerEl.clientWidth, height: CHART_HEIGHT_PX });
  }

  return { update, resize, resetZoom, zoomed: () => zoom !== null };
}
