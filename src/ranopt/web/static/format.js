// How the dashboard writes times, people and states. Network time is the network's own clock
// (for a twin's closed loop: the loop's clock), always UTC; wall time is when something
// happened on the server.

const LOOP_ACTOR = "ranopt:loop";
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

function pad(n) {
  return String(n).padStart(2, "0");
}

/** Network time (epoch seconds) as "2026-01-19 19:15" ("—" when missing). */
export function networkTime(seconds) {
  if (typeof seconds !== "number") return "—";
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
}

/** Only the clock of a network time: "19:15". */
export function clockTime(seconds) {
  const d = new Date(seconds * 1000);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** The day of a network time: "Mon 19 Jan". */
export function dayLabel(seconds) {
  const d = new Date(seconds * 1000);
  const month = d.toLocaleString("en", { month: "short", timeZone: "UTC" });
  return `${DAYS[d.getUTCDay()]} ${d.getUTCDate()} ${month}`;
}

/** A window [start, end) in network time: "2026-01-19 19:15 – 20:15" (day repeated if it changes). */
export function windowLabel(startS, endS) {
  if (typeof startS !== "number" || typeof endS !== "number") return "—";
  const sameDay = networkTime(startS).slice(0, 10) === networkTime(endS).slice(0, 10);
  return `${networkTime(startS)} – ${sameDay ? clockTime(endS) : networkTime(endS)}`;
}

/** Wall time (epoch seconds) as "2026-01-19 19:15 UTC". */
export function wallTime(seconds) {
  if (typeof seconds !== "number") return "—";
  return `${networkTime(seconds)} UTC`;
}

/**
 * Who a principal is, for people: "user:3" -> that user's name (from `users`, a Map of id
 * to username), the closed loop and the system by name, anything else as recorded.
 */
export function personName(subject, users) {
  if (!subject) return "—";
  if (subject === LOOP_ACTOR) return "closed loop";
  const match = /^user:(\d+)$/.exec(subject);
  if (match && users?.has(Number(match[1]))) return users.get(Number(match[1]));
  return subject;
}

/** Whether a run was asked for by the closed loop. */
export function byLoop(run) {
  return run.created_by === LOOP_ACTOR;
}

/** A run status as words: "awaiting_approval" -> "awaiting approval". */
export function statusLabel(status) {
  return String(status ?? "—").replace(/_/g, " ");
}

/** A number with fixed digits ("—" when missing). */
export function fixed(value, digits) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}

/** A share 0-1 as "12.3 %" ("—" when missing). */
export function percent(value, digits = 1) {
  return typeof value === "number" && Number.isFinite(value) ? `${(100 * value).toFixed(digits)} %` : "—";
}

/** A DOM element with a class and text (text is set as text, never parsed as HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}
