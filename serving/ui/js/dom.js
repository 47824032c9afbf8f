// Small DOM helpers shared by the pages.
import { t } from "./i18n.js";

/** h("div.class", {attr: v, onclick: fn}, ...children) */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

export function toast(message, bad = false) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = `show${bad ? " bad" : ""}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = ""; }, 2500);
}

export function facts(rows) {
  return h("dl.facts", {}, rows.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v ?? t("none"))]));
}

/** A status as a badge; ``group``: "status" (an incident's review) or "ticket_status". */
export function statusBadge(status, group = "status") {
  return h(`span.status.${status}`, { "data-status": status }, t(`${group}.${status}`));
}

export function localTime(iso) {
  return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : t("none");
}

/** A compact local time for lists: "14:05" today, "05-04 14:05" this year, else with the year. */
export function shortTime(iso) {
  if (!iso) return t("none");
  const at = new Date(iso);
  const now = new Date();
  const two = (n) => String(n).padStart(2, "0");
  const clock = `${two(at.getHours())}:${two(at.getMinutes())}`;
  if (at.toDateString() === now.toDateString()) return clock;
  const day = `${two(at.getMonth() + 1)}-${two(at.getDate())} ${clock}`;
  return at.getFullYear() === now.getFullYear() ? day : `${at.getFullYear()}-${day}`;
}

/** Coordinates as text plus a small SVG plot around the point (no map tiles: works offline). */
export function geoPlot(lat, lon) {
  if (lat == null || lon == null) return t("none");
  const w = 220, hgt = 160, span = 0.01;
  const svg = s("svg", { class: "geo", viewBox: `0 0 ${w} ${hgt}`, role: "img" });
  for (let i = 1; i < 4; i++) {
    svg.append(s("line", { class: "grid", x1: (w * i) / 4, y1: 0, x2: (w * i) / 4, y2: hgt }));
    svg.append(s("line", { class: "grid", x1: 0, y1: (hgt * i) / 4, x2: w, y2: (hgt * i) / 4 }));
  }
  svg.append(s("circle", { class: "pt", cx: w / 2, cy: hgt / 2, r: 5 }));
  svg.append(s("text", { x: 4, y: 10 }, `N ${(lat + span).toFixed(3)}`));
  svg.append(s("text", { x: 4, y: hgt - 4 }, `${(lat - span).toFixed(3)}`));
  svg.append(s("text", { x: w - 48, y: hgt - 4 }, `E ${(lon + span).toFixed(3)}`));
  return h("div", {}, h("div", {}, `${lat.toFixed(5)}, ${lon.toFixed(5)}`), svg);
}
