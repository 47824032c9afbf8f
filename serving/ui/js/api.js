// Thin client for the service: bearer token in localStorage, JSON in and out, images as blob URLs.
const TOKEN_KEY = "shirong.token";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

export async function request(method, path, body) {
  const headers = {};
  if (token()) headers.Authorization = `Bearer ${token()}`;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof URLSearchParams)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload });
  if (response.status === 401 && path !== "/auth/login") {
    setToken(null);
    window.dispatchEvent(new Event("shirong:logout"));
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.blob();
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const put = (path, body) => request("PUT", path, body);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v != null) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

const blobUrls = new Map();

/** An object URL for an authenticated image (an <img> cannot send the bearer header). */
export async function imageUrl(path) {
  if (!blobUrls.has(path)) blobUrls.set(path, get(path).then((b) => URL.createObjectURL(b)));
  return blobUrls.get(path);
}

export async function login(username, password) {
  const form = new URLSearchParams({ username, password });
  const out = await request("POST", "/auth/login", form);
  setToken(out.access_token);
  return out;
}

export async function upload(file) {
  const form = new FormData();
  form.append("file", file);
  return request("POST", "/evidence", form);
}
