// Cameras: status, the newest frame with its zones, and a polygon editor that saves the zones.
import { ApiError, get, put, request } from "./api.js";
import { h, localTime, s, toast } from "./dom.js";
import { t } from "./i18n.js";

const BLANK = [1280, 720];

export async function render(root, { me, arg }) {
  const page = new CameraPage(root, me);
  await page.start(arg ? Number(arg) : null);
  return page;
}

class CameraPage {
  constructor(root, me) {
    this.root = root;
    this.canEdit = ["admin", "dispatcher"].includes(me.role);
    this.draft = [];
  }

  stop() {
    if (this.snapshotUrl) URL.revokeObjectURL(this.snapshotUrl);
  }

  async start(wanted) {
    try {
      this.cameras = await get("/cameras");
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        this.root.append(h("p.card.muted", { id: "cameras-missing" }, t("cameras.missing")));
        return;
      }
      throw err;
    }
    this.zoneTypes = await get("/zone-types");
    this.statuses = new Map(await Promise.all(this.cameras.map(async (c) =>
      [c.id, await get(`/cameras/${c.id}/status`).catch(() => null)])));
    this.root.append(h("div.layout", {},
      h("div.card.list", { id: "camera-list" }), h("div.card.detail", { id: "camera-detail" })));
    this.currentId = this.cameras.some((c) => c.id === wanted) ? wanted : this.cameras[0]?.id;
    this.renderList();
    await this.renderDetail();
  }

  renderList() {
    const rows = this.cameras.map((c) => {
      const state = this.statuses.get(c.id)?.state || "stopped";
      return h(c.id === this.currentId ? "tr.current" : "tr", { "data-id": c.id, onclick: () => this.select(c.id) },
        h("td", {}, c.code), h("td", {}, c.name),
        h("td", {}, h(`span.status.${state === "online" ? "confirmed" : "rejected"}`, { "data-state": state },
          t(`cameras.${state}`))));
    });
    document.getElementById("camera-list").replaceChildren(rows.length
      ? h("table", {}, h("tbody", {}, rows)) : h("p.muted", {}, t("cameras.none")));
  }

  async select(id) {
    this.currentId = id;
    this.draft = [];
    history.replaceState(null, "", `#/cameras/${id}`);
    this.renderList();
    await this.renderDetail();
  }

  camera() {
    return this.cameras.find((c) => c.id === this.currentId);
  }

  async renderDetail() {
    const box = document.getElementById("camera-detail");
    const camera = this.camera();
    if (!camera) {
      box.replaceChildren(h("p.muted", {}, t("cameras.none")));
      return;
    }
    this.zones = structuredClone(camera.config.zones || []);
    const status = this.statuses.get(camera.id);
    const img = h("img", { alt: camera.code });
    this.svg = s("svg", { id: "zone-overlay" });
    this.svg.addEventListener("click", (e) => this.addPoint(e));
    const stage = h("div.stage", {}, img, this.svg);
    const idInput = h("input", { id: "zone-id", placeholder: t("cameras.zoneId"), pattern: "[a-z0-9_]+" });
    const typeSelect = h("select", { id: "zone-type", "aria-label": t("cameras.zoneType") },
      this.zoneTypes.map((z) => h("option", { value: z }, zoneName(z))));
    box.replaceChildren(
      h("div.toolbar", {}, h("strong", {}, `${camera.code} ${camera.name}`),
        h("span.muted", { id: "camera-status" }, status ? statusLine(status) : "")),
      status && status.warning ? h("p.warning", { id: "camera-warning" }, `${t("cameras.warning")}: ${status.warning}`) : null,
      stage,
      this.canEdit ? h("div.toolbar", {}, idInput, typeSelect,
        h("button", { type: "button", id: "zone-finish", onclick: () => this.finish() }, t("cameras.finish")),
        h("button", { type: "button", id: "zone-clear", onclick: () => { this.draft = []; this.draw(); } }, t("cameras.clear")),
        h("button.primary", { type: "button", id: "zone-save", onclick: () => this.save() }, t("cameras.save"))) : null,
      h("strong", {}, t("cameras.zones")), h("ul", { id: "zone-list" }));
    this.size = camera.config.frame_size || BLANK;
    try {
      const blob = await request("GET", `/cameras/${camera.id}/snapshot`);
      if (this.snapshotUrl) URL.revokeObjectURL(this.snapshotUrl);
      this.snapshotUrl = URL.createObjectURL(blob);
      img.src = this.snapshotUrl;
      await img.decode();
      this.size = [img.naturalWidth, img.naturalHeight];
    } catch {
      stage.prepend(h("span.muted", { style: "position:absolute;color:#ccc;padding:8px;line-height:1.4" }, t("cameras.noFrame")));
      const [w, hgt] = this.size;
      img.src = `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${hgt}"><rect width="100%" height="100%" fill="#333"/></svg>`)}`;
      await img.decode().catch(() => {});
    }
    img.style.width = `${Math.round(Math.min(box.clientWidth - 26, window.innerHeight * 0.6 * this.size[0] / this.size[1]))}px`;
    this.svg.setAttribute("viewBox", `0 0 ${this.size[0]} ${this.size[1]}`);
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.draw();
  }

  draw() {
    const font = Math.max(14, this.size[0] / 50);
    this.svg.replaceChildren();
    for (const zone of this.zones) {
      const points = zone.polygon.map((p) => p.join(",")).join(" ");
      this.svg.append(s("polygon", { class: "zone", points, "data-zone": zone.id }));
      const [x, y] = zone.polygon[0];
      this.svg.append(s("text", { class: "zone-label", x, y: y + font, "font-size": font }, `${zone.name || zone.id} · ${zoneName(zone.type)}`));
    }
    if (this.draft.length) {
      this.svg.append(s("polyline", { class: "zone draft", points: this.draft.map((p) => p.join(",")).join(" ") }));
      for (const [x, y] of this.draft) this.svg.append(s("circle", { cx: x, cy: y, r: font / 3, fill: "#ffd400" }));
    }
    document.getElementById("zone-list").replaceChildren(...this.zones.map((zone, i) => h("li", { "data-zone": zone.id },
      `${zone.id} · ${zoneName(zone.type)} · ${zone.polygon.length} `,
      this.canEdit ? h("button", { type: "button", onclick: () => { this.zones.splice(i, 1); this.draw(); } }, "×") : null)));
  }

  addPoint(event) {
    if (!this.canEdit) return;
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(this.svg.getScreenCTM().inverse());
    this.draft.push([Math.round(p.x), Math.round(p.y)]);
    this.draw();
  }

  finish() {
    const id = document.getElementById("zone-id").value.trim();
    if (this.draft.length < 3 || !id) {
      toast(`${t("cameras.zoneId")} / ≥ 3`, true);
      return;
    }
    const type = document.getElementById("zone-type").value;
    this.zones = this.zones.filter((z) => z.id !== id);
    this.zones.push({ id, type, polygon: this.draft });
    this.draft = [];
    this.draw();
  }

  async save() {
    try {
      const camera = await put(`/cameras/${this.currentId}/zones`, { zones: this.zones, frame_size: this.size });
      this.cameras[this.cameras.findIndex((c) => c.id === camera.id)] = camera;
      toast(`${t("cameras.save")} ✓`);
    } catch (err) {
      toast(err.message, true);
    }
  }
}

function zoneName(type) {
  const name = t(`zone.${type}`);
  return name.startsWith("zone.") ? type : name;
}

function statusLine(status) {
  const parts = [t(`cameras.${status.state}`), `${t("cameras.frames")} ${status.frames_analysed}`,
    localTime(status.last_frame_time)];
  if (status.analysing === "detect") parts.splice(1, 0, t("cameras.detect"));
  return parts.join(" · ");
}
