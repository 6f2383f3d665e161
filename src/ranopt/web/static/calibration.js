// Calibration panel: how well the network's model reproduces its counters on held-out days.
// Every cell is set with textContent: nothing from the server is parsed as HTML.

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** A share 0-1 as "12.3 %" ("—" when missing). */
export function pct(value) {
  return typeof value === "number" ? `${(100 * value).toFixed(1)} %` : "—";
}

function row(cells, numeric) {
  const tr = document.createElement("tr");
  cells.forEach((text, i) => tr.append(el(i === 0 ? "th" : "td", text, numeric && i > 0 ? "num" : "")));
  return tr;
}

function table(head, rows, testid) {
  const t = el("table");
  if (testid) t.dataset.testid = testid;
  const thead = document.createElement("thead");
  thead.append(row(head, true));
  const tbody = document.createElement("tbody");
  tbody.append(...rows);
  t.append(thead, tbody);
  return t;
}

const FIGURES = [
  ["prb_load_wape", "PRB load per cell"],
  ["volume_wape", "volume per cell"],
  ["ue_thp_wape", "UE throughput per cell"],
  ["conn_mean_wape", "connected UEs per cell"],
];

function summary(report, stored) {
  const box = el("div", null, "calibration-summary");
  const verdict = el(
    "span",
    report.target.met ? "target met" : "target not met",
    `status ${report.target.met ? "status-applied" : "status-failed"}`,
  );
  verdict.dataset.testid = "calibration-verdict";
  const wape = el("strong", pct(stored.prb_load_wape));
  wape.dataset.testid = "calibration-prb-wape";
  box.append(
    el("span", "held-out PRB-load WAPE "), wape,
    el("span", ` (target ≤ ${pct(report.target.prb_load_wape_max)}) `), verdict,
  );
  const facts = el("p", `${report.days_found} days of PM history found · fitted on `
    + `${report.train_days.length} days, scored on ${report.heldout_days.join(", ")} · `
    + `${report.model.num_ues} model UEs · fit ${report.fit_s} s · `
    + `${report.num_warnings} topology defaults used`, "muted");
  facts.dataset.testid = "calibration-facts";
  return [box, facts];
}

/**
 * Render a stored calibration report (GET /networks/{id}/calibration) into `container`,
 * or, when `stored` is null, say that the network has not been calibrated yet.
 */
export function renderCalibration(container, stored) {
  if (!stored) {
    const empty = el("p", "Not calibrated yet: a model needs 7 days of PM history.", "empty");
    empty.dataset.testid = "calibration-empty";
    container.replaceChildren(empty);
    return;
  }
  const report = stored.report;
  const observed = report.heldout.observed_demand;
  const profile = report.heldout.profile;
  const fit = table(
    ["held-out WAPE", "driven by the day's counters", "driven by the fitted profile"],
    FIGURES.map(([key, label]) => row([label, pct(observed[key]), pct(profile[key])], true)),
    "calibration-fit",
  );
  const shares = table(
    ["layer", "observed share", "model share"],
    observed.layer_shares.map((s) => row([s.layer, pct(s.observed), pct(s.model)], true)),
    "calibration-layers",
  );
  const worst = [...report.cells]
    .filter((c) => typeof c.prb_load_wape === "number")
    .sort((a, b) => b.prb_load_wape - a.prb_load_wape)
    .slice(0, 10);
  const cells = table(
    ["cell (worst 10)", "layer", "model UEs", "PRB-load WAPE"],
    worst.map((c) => row([c.name, c.layer, String(c.num_ues), pct(c.prb_load_wape)], true)),
    "calibration-cells",
  );
  const wrap = (node) => {
    const div = el("div", null, "table-wrap");
    div.append(node);
    return div;
  };
  container.replaceChildren(
    ...summary(report, stored),
    wrap(fit),
    el("h2", "Share of served volume per layer"),
    wrap(shares),
    el("h2", "Cells the model reproduces least well"),
    wrap(cells),
  );
}
