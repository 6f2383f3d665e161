// The dashboard's only door to the server: bearer-token fetches against /api/v2.
// The token lives in sessionStorage; its claims are decoded here only to decide what to
// show (the server checks every call).

const TOKEN_KEY = "ranopt.token";

/** A failed API call: HTTP status and the problem+json `detail` (or a short reason). */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

let onUnauthorized = () => {};

/** Register what happens when the server answers 401 to an authenticated call. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The JWT payload ({sub, tid, role, exp, ...}) or null; not verified (display only). */
export function decodeClaims(token) {
  if (!token) return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Whether the token's `exp` (epoch seconds) has passed. */
export function isExpired(claims) {
  return !claims || (typeof claims.exp === "number" && claims.exp * 1000 <= Date.now());
}

async function problemDetail(response) {
  try {
    const body = await response.json();
    const detail = body.detail ?? body.title;
    if (typeof detail === "string") return detail;
    if (detail !== undefined) return JSON.stringify(detail);
  } catch {
    // not JSON: fall through to the status text
  }
  return `${response.status} ${response.statusText}`.trim();
}

async function request(path, { method = "GET", json } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    const detail = await problemDetail(response);
    if (response.status === 401) onUnauthorized(detail);
    throw new ApiError(response.status, detail);
  }
  return response;
}

/**
 * Call the API with the session's bearer token; resolve to the JSON body (null on 204).
 * Rejects with ApiError; a 401 also runs the unauthorized handler (back to the login).
 */
export async function api(path, options = {}) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

/** GET one page of a list: {body, total} (total from ``X-Total-Count``). */
export async function apiPage(path) {
  const response = await request(path);
  return { body: await response.json(), total: Number(response.headers.get("X-Total-Count") ?? 0) };
}

/** Like `api`, but a 404 resolves to null (for endpoints that may not exist yet). */
export async function apiOptional(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** Exchange the login form's fields for a token (form-encoded, as OAuth2 password login). */
export async function login({ tenant, username, password, totp }) {
  const form = new URLSearchParams({ tenant, username, password });
  if (totp) form.set("totp", totp);
  const response = await fetch("/api/v2/auth/token", {
    method: "POST",
    headers: { Accept: "application/json" },
    body: form,
  });
  if (!response.ok) throw new ApiError(response.status, await problemDetail(response));
  const body = await response.json();
  return body.access_token;
}
