// The cell map, with no tiles and no network access: sites at their latitude / longitude on
// Leaflet's EPSG:3857 (Web Mercator) when the topology gives them, else at their local x/y
// metres (L.CRS.Simple); each cell a canvas circle offset from its site along its azimuth.
// Markers are made once per network; each poll only restyles the cells whose state or load
// bucket changed.

import * as L from "./vendor/leaflet-1.9.4/leaflet-src.esm.js";

// viridis stops for PRB load 0..1 (no red in it: red means failed)
const LOAD_STOPS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];
const FAILED = "#d62728";
const NO_STATE = "#9aa5b1";
const LOAD_BUCKETS = 50;
const DEFAULT_SPACING_M = 500;
const METRES_PER_DEG_LAT = 111_320; // WGS 84 mean, enough to place a marker metres off its site

/** Colour of a PRB load in 0..1 on the legend's scale, as `rgb(r,g,b)`. */
export function loadColour(prbLoad) {
  const x = Math.min(1, Math.max(0, Number(prbLoad) || 0)) * (LOAD_STOPS.length - 1);
  const i = Math.min(LOAD_STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = LOAD_STOPS[i].map((v, k) => Math.round(v + f * (LOAD_STOPS[i + 1][k] - v)));
  return `rgb(${rgb.join(",")})`;
}

/** Smallest distance between two sites in metres (the map's scale for cell offsets). */
function siteSpacing(sites) {
  let best = Infinity;
  for (let i = 0; i < sites.length; i += 1) {
    for (let j = i + 1; j < sites.length; j += 1) {
      const d = Math.hypot(sites[i].x_m - sites[j].x_m, sites[i].y_m - sites[j].y_m);
      if (d > 1 && d < best) best = d;
    }
  }
  return Number.isFinite(best) ? best : DEFAULT_SPACING_M;
}

/** Whether every site has a latitude and a longitude (the map is then geographic). */
export function hasCoordinates(sites) {
  return sites.length > 0
    && sites.every((s) => typeof s.latitude_deg === "number" && typeof s.longitude_deg === "number");
}

/** Where a site is drawn: its latitude / longitude, or its local metres (y north, x east). */
function siteLatLng(site, geo) {
  return geo ? L.latLng(site.latitude_deg, site.longitude_deg) : L.latLng(site.y_m, site.x_m);
}

/** Where a cell is drawn: its site moved along the azimuth (clockwise from north). */
function cellLatLng(site, cell, spacingM, geo) {
  const radiusM = spacingM * (cell.layer === "capacity" ? 0.34 : 0.2);
  const azimuthRad = (cell.azimuth_deg * Math.PI) / 180;
  const northM = radiusM * Math.cos(azimuthRad);
  const eastM = radiusM * Math.sin(azimuthRad);
  if (!geo) return L.latLng(site.y_m + northM, site.x_m + eastM);
  const metresPerDegLon = METRES_PER_DEG_LAT * Math.cos((site.latitude_deg * Math.PI) / 180);
  return L.latLng(
    site.latitude_deg + northM / METRES_PER_DEG_LAT,
    site.longitude_deg + eastM / metresPerDegLon,
  );
}

function layerStyle(cell) {
  return cell.layer === "capacity"
    ? { radius: 4, weight: 1, color: "#ffffff" }
    : { radius: 7, weight: 1, color: "#16202a" };
}

/** The marker style of a cell for its live state (null: no live state yet). */
function cellStyle(cell, live) {
  const base = layerStyle(cell);
  if (!live) return { ...base, fillColor: NO_STATE, fillOpacity: 0.7 };
  if (live.state === "failed") {
    return { ...base, color: FAILED, fillColor: FAILED, fillOpacity: 1, weight: 2 };
  }
  const fillColor = loadColour(live.prb_load);
  if (live.state === "asleep") return { ...base, color: "#5d6b78", weight: 2, fillColor, fillOpacity: 0 };
  return { ...base, fillColor, fillOpacity: 0.9 };
}

function styleKey(live) {
  if (!live) return "none";
  return `${live.state}|${Math.round((Number(live.prb_load) || 0) * LOAD_BUCKETS)}`;
}

function row(parent, label, value) {
  const line = document.createElement("div");
  const key = document.createElement("b");
  key.textContent = `${label}: `;
  line.append(key, document.createTextNode(value));
  parent.append(line);
}

/** Tooltip body for one cell (DOM nodes, no HTML strings). */
function tooltipContent(entry) {
  const box = document.createElement("div");
  const { cell, live, site } = entry;
  row(box, "cell", cell.name);
  row(box, "site", site.name);
  if (hasCoordinates([site])) {
    row(box, "position", `${site.latitude_deg.toFixed(5)}°, ${site.longitude_deg.toFixed(5)}°`);
  }
  row(box, "layer", cell.layer);
  if (live) {
    row(box, "load", `${(100 * live.prb_load).toFixed(1)} %`);
    row(box, "state", live.state);
    row(box, "CIO", `${Number(live.cio_db).toFixed(1)} dB`);
  } else {
    row(box, "state", "no live state (closed loop not running)");
  }
  return box;
}

/** Show counts in the side panel (ids from index.html). */
function showCounts(numCells, counts) {
  document.getElementById("cell-count").textContent = String(numCells);
  for (const state of ["active", "asleep", "failed", "unknown"]) {
    document.getElementById(`count-${state}`).textContent = String(counts[state] ?? 0);
  }
}

/** Make the map in `container`; returns {setNetwork, update, invalidate}. */
export function createCellMap(container) {
  let map = null;
  let geo = null; // the frame of the map made: true (EPSG:3857) or false (local metres)
  let renderer = null;
  let siteLayer = null;
  let cellLayer = null;
  let entries = new Map(); // cell id -> {cell, site, marker, live, key}

  /** (Re)make the Leaflet map when the frame changes: a map's CRS is fixed at birth. */
  function ensureMap(wantGeo) {
    if (map && geo === wantGeo) return;
    if (map) map.remove();
    geo = wantGeo;
    map = L.map(container, {
      crs: geo ? L.CRS.EPSG3857 : L.CRS.Simple,
      preferCanvas: true,
      minZoom: geo ? 1 : -10,
      maxZoom: geo ? 19 : 4,
      zoomSnap: 0.25,
      attributionControl: false,
    });
    L.control.scale({ imperial: false }).addTo(map);
    renderer = L.canvas({ padding: 0.2 });
    siteLayer = L.layerGroup().addTo(map);
    cellLayer = L.layerGroup().addTo(map);
    container.dataset.crs = geo ? "EPSG:3857" : "Simple";
  }

  function setNetwork(sites, cells) {
    ensureMap(hasCoordinates(sites));
    siteLayer.clearLayers();
    cellLayer.clearLayers();
    entries = new Map();
    const siteById = new Map(sites.map((s) => [s.id, s]));
    const spacingM = siteSpacing(sites);
    for (const site of sites) {
      L.circleMarker(siteLatLng(site, geo), {
        renderer, radius: 2, weight: 0, fillColor: "#16202a", fillOpacity: 0.8, interactive: false,
      }).addTo(siteLayer);
    }
    for (const cell of cells) {
      const site = siteById.get(cell.site_id);
      if (!site) continue;
      const entry = { cell, site, live: null, key: "none", marker: null };
      entry.marker = L.circleMarker(cellLatLng(site, cell, spacingM, geo), {
        renderer, ...cellStyle(cell, null),
      }).bindTooltip(() => tooltipContent(entry));
      entry.marker.addTo(cellLayer);
      entries.set(cell.id, entry);
    }
    const bounds = L.latLngBounds(sites.map((s) => siteLatLng(s, geo)));
    if (bounds.isValid()) {
      map.fitBounds(bounds.pad(0.15), { animate: false });
      if (sites.length === 1) map.setView(bounds.getCenter(), geo ? 15 : 0, { animate: false });
      container.dataset.bounds = bounds.toBBoxString();
    }
    showCounts(entries.size, { unknown: entries.size });
  }

  // live: the /live answer, or null when the closed loop is not running
  function update(live) {
    const byId = new Map((live?.cells ?? []).map((c) => [c.id, c]));
    const counts = { active: 0, asleep: 0, failed: 0, unknown: 0 };
    for (const [id, entry] of entries) {
      const state = byId.get(id) ?? null;
      entry.live = state;
      counts[state ? state.state : "unknown"] = (counts[state ? state.state : "unknown"] ?? 0) + 1;
      const key = styleKey(state);
      if (key !== entry.key) {
        entry.key = key;
        entry.marker.setStyle(cellStyle(entry.cell, state));
      }
      if (entry.marker.isTooltipOpen()) entry.marker.setTooltipContent(() => tooltipContent(entry));
    }
    showCounts(entries.size, counts);
    container.dataset.cells = String(entries.size);
  }

  return { setNetwork, update, invalidate: () => map?.invalidateSize({ animate: false }) };
}
