// The REST API as the dashboard calls it: with the session's token, JSON both ways,
// and If-None-Match for the answers it polls. A 401 ends the session.

const KEY = "dcmanager.session";
const TIMEOUT_MS = 60000;

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export function remember(value) {
  sessionStorage.setItem(KEY, JSON.stringify(value));
}

export function forget() {
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// { data, etag } of a call; { notModified: true } when the etag given still holds.
export async function call(method, path, body, etag) {
  const headers = { Accept: "application/json" };
  const current = session();
  if (current && current.token) headers["X-Auth-Token"] = current.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (etag) headers["If-None-Match"] = etag;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS), // a hung request must not stop a poll
  });
  if (response.status === 304) return { notModified: true, etag };
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401 && path.startsWith("/v1.0")) {
    forget();
    location.hash = "#/login";
  }
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.message) || response.statusText);
  }
  return { data, etag: response.headers.get("ETag") };
}

// Revoke a token the page no longer keeps (logging out); the answer does not matter.
export function revoke(token) {
  fetch("/ui/login", {
    method: "DELETE",
    headers: { "X-Auth-Token": token },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).catch(() => {});
}

export const get = (path, etag) => call("GET", path, undefined, etag);
export const post = (path, body) => call("POST", path, body);
export const del = (path) => call("DELETE", path);
