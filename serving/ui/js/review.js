// Review queue: evidence frame with editable boxes, facts, decisions, bulk actions, filters.
import { get, imageUrl, post, query, request } from "./api.js";
import { BoxEditor } from "./boxes.js";
import { facts, geoPlot, h, localTime, statusBadge, toast } from "./dom.js";
import { nameOf, t } from "./i18n.js";

const REASONS = ["false_positive", "duplicate", "not_a_violation", "other"];

export async function render(root, { me, taxonomy, arg }) {
  const page = new ReviewPage(root, me, taxonomy);
  await page.start(arg ? Number(arg) : null);
  return page;
}

class ReviewPage {
  constructor(root, me, taxonomy) {
    this.root = root;
    this.me = me;
    this.taxonomy = taxonomy;
    this.classes = new Map(taxonomy.classes.map((c) => [c.name, c]));
    this.clauses = new Map(taxonomy.standards.flatMap((st) => st.clauses.map((c) => [c.id, c])));
    this.items = [];
    this.index = -1;
    this.selected = new Set();
    this.drawing = false;
    this.onKey = (e) => this.key(e);
    document.addEventListener("keydown", this.onKey);
  }

  stop() {
    document.removeEventListener("keydown", this.onKey);
  }

  async start(wanted) {
    this.squads = await get("/squads").catch(() => []);
    this.root.append(this.filterBar(), h("div.layout", {},
      h("div.card", {}, this.bulkBar(), h("div.list", { id: "queue" })),
      h("div.card.detail", { id: "detail" })));
    await this.load(wanted);
  }

  filterBar() {
    const opt = (value, label) => h("option", { value }, label);
    const standards = this.taxonomy.standards.map((st) => opt(st.id, `${st.id} ${nameOf(st)}`));
    const squads = this.squads.map((sq) => opt(sq.id, sq.name));
    const statuses = ["pending", "confirmed", "rejected"].map((st) => opt(st, t(`status.${st}`)));
    const form = h("form.filters", { id: "filters", onsubmit: (e) => { e.preventDefault(); this.load(); } },
      h("select", { name: "status", "aria-label": t("filter.status") }, opt("", `${t("filter.status")}: ${t("filter.any")}`), statuses),
      h("select", { name: "standard", "aria-label": t("filter.standard") }, opt("", `${t("filter.standard")}: ${t("filter.any")}`), standards),
      h("input", { name: "camera_id", placeholder: t("filter.camera") }),
      h("select", { name: "squad_id", "aria-label": t("filter.squad") }, opt("", `${t("filter.squad")}: ${t("filter.any")}`), squads),
      h("input", { name: "min_confidence", type: "number", min: 0, max: 1, step: 0.05, placeholder: t("filter.minconf") }),
      h("input", { name: "since", type: "datetime-local", title: t("filter.since") }),
      h("input", { name: "until", type: "datetime-local", title: t("filter.until") }),
      h("button.primary", { type: "submit" }, t("filter.apply")),
      h("span.spacer"),
      h("span.muted", {}, `${t("export.title")}: `),
      ["yolo", "coco", "labelstudio"].map((f) =>
        h("button", { type: "button", "data-export": f, onclick: () => this.exportZip(f) }, f.toUpperCase())));
    return form;
  }

  bulkBar() {
    return h("div.toolbar", {},
      h("input", { type: "checkbox", id: "select-all", "aria-label": "all", onchange: (e) => this.selectAll(e.target.checked) }),
      h("button.ok", { type: "button", id: "bulk-accept", onclick: () => this.bulk("confirm") }, t("review.bulkAccept")),
      h("button.bad", { type: "button", id: "bulk-reject", onclick: () => this.bulk("reject") }, t("review.bulkReject")));
  }

  filters() {
    const data = Object.fromEntries(new FormData(document.getElementById("filters")));
    for (const k of ["since", "until"]) if (data[k]) data[k] = new Date(data[k]).toISOString();
    return data;
  }

  async load(wanted = null) {
    const keep = wanted ?? this.current()?.id;
    try {
      this.items = await get(`/incidents${query({ ...this.filters(), limit: 500 })}`);
    } catch (err) {
      toast(err.message, true);
      return;
    }
    this.selected.clear();
    const found = this.items.findIndex((i) => i.id === keep);
    this.index = found >= 0 ? found : (this.items.length ? 0 : -1);
    this.renderList();
    await this.renderDetail();
  }

  current() {
    return this.items[this.index];
  }

  clauseName(item) {
    return item.clause_name && !this.en() ? item.clause_name : nameOf(this.clauses.get(item.clause));
  }

  en() {
    return document.documentElement.lang === "en";
  }

  renderList() {
    const rows = this.items.map((item, i) => h(i === this.index ? "tr.current" : "tr",
      { "data-id": item.id, onclick: (e) => { if (e.target.type !== "checkbox") this.go(i); } },
      h("td", {}, h("input", { type: "checkbox", "aria-label": `#${item.id}`, checked: this.selected.has(item.id),
        onchange: (e) => { if (e.target.checked) this.selected.add(item.id); else this.selected.delete(item.id); } })),
      h("td", {}, `#${item.id}`),
      h("td", {}, `${item.clause} ${this.clauseName(item)}`),
      h("td", {}, item.confidence.toFixed(2)),
      h("td", {}, statusBadge(item.status))));
    const list = document.getElementById("queue");
    list.replaceChildren(rows.length ? h("table", {}, h("tbody", {}, rows)) : h("p.muted", {}, t("review.empty")));
  }

  async go(index) {
    if (index < 0 || index >= this.items.length) return;
    this.index = index;
    this.drawing = false;
    this.renderList();
    document.querySelector("#queue tr.current")?.scrollIntoView({ block: "nearest" });
    await this.renderDetail();
  }

  async renderDetail() {
    const detail = document.getElementById("detail");
    const item = this.current();
    if (!item) {
      detail.replaceChildren(h("p.muted", {}, t("review.empty")));
      return;
    }
    history.replaceState(null, "", `#/review/${item.id}`);
    const pending = item.status === "pending";
    const img = h("img", { alt: `#${item.id}` });
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.id = "overlay";
    svg.classList.toggle("drawing", this.drawing);
    const stage = h("div.stage", {}, img, svg);
    const reason = h("select", { id: "reject-reason", "aria-label": t("review.reason"), onchange: (e) => e.target.blur() },
      REASONS.map((r) => h("option", { value: r }, t(`reason.${r}`))));
    const newClass = h("select", { id: "new-class", "aria-label": t("review.newClass") },
      this.taxonomy.classes.map((c) => h("option", { value: c.name }, `${nameOf(c)} (${c.name})`)));
    const toolbar = h("div.toolbar", {},
      h("button.ok", { type: "button", id: "accept", disabled: !pending, onclick: () => this.decide("confirm") }, `${t("review.accept")} (a)`),
      h("button.bad", { type: "button", id: "reject", disabled: !pending, onclick: () => this.decide("reject") }, `${t("review.reject")} (r)`),
      reason,
      h("button", { type: "button", id: "prev", onclick: () => this.go(this.index - 1) }, `← ${t("review.prev")}`),
      h("button", { type: "button", id: "next", onclick: () => this.go(this.index + 1) }, `${t("review.next")} →`),
      h("button", { type: "button", id: "draw", "aria-pressed": String(this.drawing), disabled: !pending,
        onclick: () => this.toggleDraw() }, t("review.draw")),
      newClass);
    const loc = item.lat != null ? geoPlot(item.lat, item.lon) : t("none");
    detail.replaceChildren(
      h("div.toolbar", {}, h("strong", {}, `#${item.id}`), statusBadge(item.status),
        item.ticket_id ? h("a", { href: `#/tickets/${item.ticket_id}` }, `${t("fact.ticket")} #${item.ticket_id}`) : null),
      stage, toolbar, h("p.muted", {}, t("review.keys")),
      h("div", { style: "display:flex;gap:16px;flex-wrap:wrap" },
        h("div", { style: "flex:1;min-width:260px" }, h("strong", {}, t("review.boxes")), this.boxTable(item, pending)),
        h("div", { style: "flex:1;min-width:260px" }, facts([
          ["fact.standard", `${item.standard} ${this.en() ? nameOf(this.taxonomy.standards.find((x) => x.id === item.standard)) : item.standard_name}`],
          ["fact.clause", `${item.clause} ${this.clauseName(item)}`],
          ["fact.rule", item.rule],
          ["fact.zone", item.zone],
          ["fact.dwell", `${Math.round(item.dwell_s)} ${t("seconds")}`],
          ["fact.camera", `${item.source_name || ""} (${item.camera_id || item.source_id})`],
          ["fact.time", `${localTime(item.first_seen)} – ${localTime(item.last_seen)}`],
          ["fact.confidence", item.confidence.toFixed(2)],
          ["fact.location", loc],
        ]))));
    this.editor = new BoxEditor(svg, {
      label: (box) => `${nameOf(this.classes.get(box.class_name)) || box.class_name}${box.confidence != null ? ` ${box.confidence.toFixed(2)}` : ""}`,
      drawing: () => this.drawing,
      onMove: (index, xyxy) => this.review({ action: "correct_box", box_index: index, xyxy }),
      onDraw: (xyxy) => this.review({ action: "add_box", class_name: newClass.value, xyxy }),
    });
    if (!item.image) return;
    img.src = await imageUrl(`/evidence/${item.image}`);
    await img.decode().catch(() => {});
    fitImage(img, stage.parentElement);
    this.editor.show(img.naturalWidth, img.naturalHeight, item.boxes, item.image_region);
    if (!pending) svg.style.pointerEvents = "none";
  }

  boxTable(item, pending) {
    return h("table.boxes-table", {}, h("tbody", {}, item.boxes.map((box, i) => h("tr", { "data-box": i },
      h("td", {}, `${i + 1}`),
      h("td", {}, h("select", { "aria-label": `class ${i + 1}`, disabled: !pending,
        onchange: (e) => this.review({ action: "relabel", box_index: i, class_name: e.target.value }) },
        this.taxonomy.classes.map((c) => h("option", { value: c.name, selected: c.name === box.class_name }, `${nameOf(c)} (${c.name})`)))),
      h("td.muted", {}, box.confidence != null ? box.confidence.toFixed(2) : ""),
      h("td.muted", {}, box.added ? t("review.added") : box.xyxy ? box.xyxy.map(Math.round).join(",") : t("review.undrawn"))))));
  }

  toggleDraw() {
    this.drawing = !this.drawing;
    document.getElementById("draw").setAttribute("aria-pressed", String(this.drawing));
    document.getElementById("overlay").classList.toggle("drawing", this.drawing);
  }

  async review(body, item = this.current()) {
    try {
      const result = await post(`/incidents/${item.id}/reviews`, body);
      const at = this.items.findIndex((i) => i.id === item.id);
      if (at >= 0) this.items[at] = result.incident;
      return result;
    } catch (err) {
      toast(`#${item.id}: ${err.message}`, true);
      return null;
    } finally {
      if (item === this.current() || this.items[this.index]?.id === item.id) {
        this.drawing = false;
        this.renderList();
        await this.renderDetail();
      }
    }
  }

  async decide(action) {
    const item = this.current();
    if (!item || item.status !== "pending") return;
    const body = action === "reject"
      ? { action, reason: document.getElementById("reject-reason").value } : { action };
    if (await this.review(body, item)) {
      toast(t("review.done"));
      const next = this.items.findIndex((i, k) => k > this.index && i.status === "pending");
      if (next >= 0) await this.go(next);
    }
  }

  async bulk(action) {
    const reason = document.getElementById("reject-reason")?.value || "false_positive";
    const body = action === "reject" ? { action, reason } : { action };
    const chosen = this.items.filter((i) => this.selected.has(i.id) && i.status === "pending");
    for (const item of chosen) {
      try {
        const result = await post(`/incidents/${item.id}/reviews`, body);
        this.items[this.items.findIndex((i) => i.id === item.id)] = result.incident;
      } catch (err) {
        toast(`#${item.id}: ${err.message}`, true);
      }
    }
    this.selected.clear();
    this.renderList();
    await this.renderDetail();
    toast(`${t("review.done")}: ${chosen.length}`);
  }

  selectAll(on) {
    this.selected = new Set(on ? this.items.map((i) => i.id) : []);
    this.renderList();
  }

  async exportZip(format) {
    try {
      const blob = await request("GET", `/corrections/export?format=${format}`);
      const a = h("a", { href: URL.createObjectURL(blob), download: `shirong-corrections-${format}.zip` });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      toast(err.message, true);
    }
  }

  key(event) {
    if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName) || event.ctrlKey || event.metaKey || event.altKey) return;
    const actions = {
      a: () => this.decide("confirm"),
      r: () => this.decide("reject"),
      n: () => this.go(this.index + 1),
      ArrowRight: () => this.go(this.index + 1),
      p: () => this.go(this.index - 1),
      ArrowLeft: () => this.go(this.index - 1),
    };
    const run = actions[event.key];
    if (run) {
      event.preventDefault();
      run();
    }
  }
}

/** Show small frames large and large frames whole: fill the width, at most 62% of the height. */
function fitImage(img, container) {
  const aspect = img.naturalWidth / img.naturalHeight || 1;
  const width = Math.min(container.clientWidth - 2, window.innerHeight * 0.62 * aspect);
  img.style.width = `${Math.round(width)}px`;
}
