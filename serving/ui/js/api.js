// Thin client for the service: bearer token in localStorage, JSON in and out, images as blob URLs.
import { errorText } from "./i18n.js";

const TOKEN_KEY = "shirong.token";

/** A refused request; ``message`` in the user's language from the body's ``code`` and ``params``
 * (the English ``detail`` where the code has no text). */
export class ApiError extends Error {
  constructor(status, detail, code = null, params = {}) {
    super(errorText(code, params, describe(detail)));
    this.status = status;
    this.detail = detail;
    this.code = code;
    this.params = params;
  }
}

/** A server ``detail`` as one line: a message, or a 422's list of ``{loc, msg}``. */
export function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    const line = (d) => (d.loc?.length > 1 ? `${d.loc.slice(1).join(".")}: ${d.msg}` : d.msg);
    return detail.map((d) => (typeof d === "object" && d?.msg ? line(d) : JSON.stringify(d))).join("; ");
  }
  return JSON.stringify(detail);
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

function authHeaders() {
  return token() ? { Authorization: `Bearer ${token()}` } : {};
}

/** The response, after a 401 has logged out and any other failure has become an ApiError. */
async function checked(response, path) {
  if (response.status === 401 && path !== "/auth/login") {
    setToken(null);
    window.dispatchEvent(new Event("shirong:logout"));
  }
  if (!response.ok && response.status !== 304) {
    let body = { detail: response.statusText };
    try { body = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, body.detail ?? response.statusText, body.code, body.params);
  }
  return response;
}

async function parsed(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.blob();
}

export async function request(method, path, body) {
  const headers = authHeaders();
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof URLSearchParams)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  return parsed(await checked(await fetch(path, { method, headers, body: payload }), path));
}

/** GET ``path`` unless it still has ``etag`` (304): ``{changed: false}``, or
 * ``{changed: true, etag, body}``. For polling: an unchanged page costs no body. */
export async function getIfChanged(path, etag) {
  const headers = authHeaders();
  if (etag) headers["If-None-Match"] = etag;
  const response = await checked(await fetch(path, { headers, cache: "no-store" }), path);
  if (response.status === 304) return { changed: false, etag };
  return { changed: true, etag: response.headers.get("ETag"), body: await parsed(response) };
}

/** POST a multipart form, reporting upload progress (0..1) to ``onProgress`` (fetch cannot). */
export function postForm(path, form, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, "network error"));
    xhr.onload = async () => {
      const type = xhr.getResponseHeader("content-type") || "";
      const response = new Response(xhr.status === 204 ? null : xhr.response, {
        status: xhr.status, statusText: xhr.statusText, headers: type ? { "content-type": type } : {},
      });
      try {
        resolve({ status: xhr.status, body: await parsed(await checked(response, path)) });
      } catch (err) {
        reject(err);
      }
    };
    xhr.send(form);
  });
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
