// Review queue: evidence frame with editable boxes, facts, decisions, bulk actions, filters.
import { get, getIfChanged, imageUrl, post, query, request } from "./api.js";
import { BoxEditor } from "./boxes.js";
import { facts, geoPlot, h, localTime, shortTime, statusBadge, toast } from "./dom.js";
import { currentLang, nameOf, t } from "./i18n.js";

const REASONS = ["false_positive", "duplicate", "not_a_violation", "other"];
const REFRESH_MS = 5000; // the queue polls with its ETag: an unchanged queue costs no body

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
    this.notice = null; // what the last confirmation could not give (shown until the next one)
    this.etag = null; // of the queue page shown, for If-None-Match
    this.version = 0; // bumped by every change of the queue from this page (see mutate)
    this.inflight = 0;
    this.fresh = new Set(); // ids that a refresh brought in (highlighted once)
    this.stale = false; // the shown item changed while the reviewer was choosing in the detail
    this.onKey = (e) => this.key(e);
    document.addEventListener("keydown", this.onKey);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    document.removeEventListener("keydown", this.onKey);
  }

  async start(wanted) {
    this.squads = await get("/squads").catch(() => []);
    this.root.append(this.filterBar(), h("div.layout", {},
      h("div.card", {}, this.bulkBar(), h("div.list", { id: "queue" })),
      h("div.card.detail", { id: "detail" })));
    await this.load(wanted);
    this.schedule();
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
      h("button.bad", { type: "button", id: "bulk-reject", onclick: () => this.bulk("reject") }, t("review.bulkReject")),
      h("span.spacer"), h("span.muted", {}, t("review.auto", { s: REFRESH_MS / 1000 })));
  }

  filters() {
    const data = Object.fromEntries(new FormData(document.getElementById("filters")));
    for (const k of ["since", "until"]) if (data[k]) data[k] = new Date(data[k]).toISOString();
    return data;
  }

  async load(wanted = null) {
    const keep = wanted ?? this.current()?.id;
    this.applied = this.filters(); // what the refresh polls, not the half-edited form
    try {
      const page = await this.mutate(() => getIfChanged(this.queueUrl(), null));
      [this.items, this.etag] = [page.body, page.etag];
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

  queueUrl() {
    return `/incidents${query({ ...this.applied, limit: 500 })}`;
  }

  /** Run a change of the queue from this page; a poll answered meanwhile is dropped (it may
   * predate the change). */
  async mutate(change) {
    this.inflight += 1;
    this.version += 1;
    try {
      return await change();
    } finally {
      this.inflight -= 1;
      this.version += 1;
    }
  }

  schedule() {
    clearTimeout(this.timer);
    if (!document.getElementById("queue")) this.stop(); // logged out: the page is gone
    if (!this.stopped) this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  /** Poll the applied filters' page; fold a changed one in. Skipped while the page is hidden, a
   * change is in flight or a box is being dragged or drawn. */
  async refresh() {
    try {
      if (!document.hidden && !this.inflight && !this.editor?.drag) {
        const version = this.version;
        const page = await getIfChanged(this.queueUrl(), this.etag);
        if (page.changed && version === this.version && !this.stopped) await this.merge(page);
        else if (this.stale && !this.choosing()) await this.redraw();
      }
    } catch {
      // offline for a moment, or logged out (api.js shows the login): the next tick retries
    } finally {
      this.schedule();
    }
  }

  /** New rows appear, changed rows change; the reviewer keeps the item shown, the ticked rows and
   * the list's scroll position. */
  async merge(page) {
    const shown = this.current();
    const known = new Set(this.items.map((i) => i.id));
    [this.items, this.etag] = [page.body, page.etag];
    const ids = new Set(this.items.map((i) => i.id));
    for (const id of this.selected) if (!ids.has(id)) this.selected.delete(id);
    const at = shown ? this.items.findIndex((i) => i.id === shown.id) : -1;
    this.index = at >= 0 ? at : Math.min(Math.max(this.index, 0), this.items.length - 1);
    this.fresh = new Set(this.items.filter((i) => !known.has(i.id)).map((i) => i.id));
    const queue = document.getElementById("queue");
    const scroll = queue.scrollTop;
    this.renderList();
    queue.scrollTop = scroll;
    this.fresh.clear();
    if (JSON.stringify(this.current()) !== JSON.stringify(shown)) this.stale = true;
    if (this.stale && !this.choosing()) await this.redraw();
  }

  async redraw() {
    this.stale = false;
    await this.renderDetail();
  }

  /** A select or input of the detail has the focus: redrawing would close or reset it. */
  choosing() {
    const el = document.activeElement;
    return Boolean(el?.closest?.("#detail")) && ["SELECT", "INPUT", "TEXTAREA"].includes(el.tagName);
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
    const rows = this.items.map((item, i) => h(`tr${i === this.index ? ".current" : ""}${this.fresh.has(item.id) ? ".fresh" : ""}`,
      { "data-id": item.id, onclick: (e) => { if (e.target.type !== "checkbox") this.go(i); } },
      h("td", {}, h("input", { type: "checkbox", "aria-label": `#${item.id}`, checked: this.selected.has(item.id),
        onchange: (e) => { if (e.target.checked) this.selected.add(item.id); else this.selected.delete(item.id); } })),
      h("td", {}, `#${item.id}`),
      h("td", {}, `${item.clause} ${this.clauseName(item)}`, this.rowMeta(item)),
      h("td", {}, item.confidence.toFixed(2)),
      h("td", {}, statusBadge(item.status), sightingBadges(item))));
    const list = document.getElementById("queue");
    list.replaceChildren(rows.length ? h("table", {}, h("tbody", {}, rows)) : h("p.muted", {}, t("review.empty")));
  }

  /** When (last seen, local time) and where (camera or source) under the clause. */
  rowMeta(item) {
    const source = item.source_name || item.camera_id || item.source_id;
    const code = item.camera_id || item.source_id;
    return h("div.muted.meta", { title: `${localTime(item.first_seen)} – ${localTime(item.last_seen)} · ${source}${source === code ? "" : ` (${code})`}` },
      h("time", { datetime: item.last_seen }, shortTime(item.last_seen)), " · ", h("span.source", {}, source));
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
    this.stale = false;
    const kept = { reason: document.getElementById("reject-reason")?.value, cls: document.getElementById("new-class")?.value };
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
    if (kept.reason) reason.value = kept.reason; // a redraw (a refresh, an edit) keeps the choices
    if (kept.cls) newClass.value = kept.cls;
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
    const why = untrainable(item, true);
    const notice = (id, role, text) => h("p", { id, role, style: NOTICE }, text);
    detail.replaceChildren(
      h("div", {}, this.notice ? notice("train-notice", "status", this.notice) : null),
      h("div.toolbar", {}, h("strong", {}, `#${item.id}`), statusBadge(item.status),
        item.ticket_id ? h("a", { href: `#/tickets/${item.ticket_id}` }, `${t("fact.ticket")} #${item.ticket_id}`) : null),
      h("div", {}, this.suppression(item)), stage, toolbar, h("div", {}, pending && why ? notice("untrainable", "alert", t("train.before", { why })) : null),
      h("p.muted", {}, t("review.keys")),
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
          ["fact.sightings", [String(item.sightings), item.suppressed ? ` (${t("recur.suppressed", { n: item.suppressed })})` : "", ...sightingBadges(item)]],
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

  /** A rejected incident's suppressed sightings, and for reviewers the button that lets new ones
   * be queued again; once lifted, when. */
  suppression(item) {
    if (item.status !== "rejected") return null;
    if (item.suppression_lifted_at) {
      return h("p.muted", { id: "suppression" }, t("recur.liftedAt", { at: localTime(item.suppression_lifted_at) }));
    }
    if (!item.suppressed) return null;
    const reviewer = ["admin", "reviewer"].includes(this.me.role);
    return h("p", { id: "suppression", style: NOTICE }, t("recur.suppressedWhy", { n: item.suppressed }), " ",
      reviewer ? h("button", { type: "button", id: "lift-suppression", onclick: () => this.lift(item) }, t("recur.lift")) : null);
  }

  async lift(item) {
    try {
      const updated = await this.mutate(() => request("DELETE", `/incidents/${item.id}/suppression`));
      const at = this.items.findIndex((i) => i.id === item.id);
      if (at >= 0) this.items[at] = updated;
      toast(t("recur.lifted"));
    } catch (err) {
      toast(`#${item.id}: ${err.message}`, true);
    }
    this.renderList();
    await this.renderDetail();
  }

  boxTable(item, pending) {
    const unboxed = new Set(item.untrainable?.boxes ?? []);
    return h("table.boxes-table", {}, h("tbody", {}, item.boxes.map((box, i) => h("tr",
      { "data-box": i, class: unboxed.has(i) ? "unboxed" : null, style: unboxed.has(i) ? "background:#fff3cd" : null },
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
      const result = await this.mutate(() => post(`/incidents/${item.id}/reviews`, body));
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

  /** Say, as it is confirmed, that an incident gives no training data (and why). */
  confirmed(incidents) {
    const notes = incidents.filter((i) => i.status === "confirmed" && untrainable(i))
      .map((i) => t("train.after", { id: i.id, why: untrainable(i) }));
    this.notice = notes.length ? notes.join(" · ") : null;
    if (this.notice) toast(this.notice, true);
    return !this.notice;
  }

  async decide(action) {
    const item = this.current();
    if (!item || item.status !== "pending") return;
    const body = action === "reject"
      ? { action, reason: document.getElementById("reject-reason").value } : { action };
    this.notice = null;
    const result = await this.review(body, item);
    if (result) {
      if (this.confirmed([result.incident])) toast(t("review.done"));
      const next = this.items.findIndex((i, k) => k > this.index && i.status === "pending");
      if (next >= 0) await this.go(next);
      else await this.renderDetail();
    }
  }

  async bulk(action) {
    const reason = document.getElementById("reject-reason")?.value || "false_positive";
    const body = action === "reject" ? { action, reason } : { action };
    const chosen = this.items.filter((i) => this.selected.has(i.id) && i.status === "pending");
    const decided = [];
    for (const item of chosen) {
      try {
        const result = await this.mutate(() => post(`/incidents/${item.id}/reviews`, body));
        this.items[this.items.findIndex((i) => i.id === item.id)] = result.incident;
        decided.push(result.incident);
      } catch (err) {
        toast(`#${item.id}: ${err.message}`, true);
      }
    }
    this.selected.clear();
    const trainable = this.confirmed(decided);
    this.renderList();
    await this.renderDetail();
    if (trainable) toast(`${t("review.done")}: ${chosen.length}`);
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

const NOTICE = "margin:6px 0;padding:6px 10px;border-left:4px solid #e0a800;background:#fff3cd;color:#533f03";

/** Why confirming ``item`` gives no training data, in the reviewer's language (with what to do
 * about it while it is still pending: ``fix``); null: it does. */
function untrainable(item, fix = false) {
  const gap = item.untrainable;
  if (!gap) return null;
  const boxes = gap.boxes.map((i) => i + 1).join(currentLang() === "en" ? ", " : "、");
  const key = `train.${gap.code}`;
  const text = t(key, { boxes });
  if (text === key) return gap.detail; // a code this page does not know yet
  const hint = t(`train.fix.${gap.code}`);
  return fix && hint !== `train.fix.${gap.code}` ? text + hint : text;
}

/** Show small frames large and large frames whole: fill the width, at most 62% of the height. */
function fitImage(img, container) {
  const aspect = img.naturalWidth / img.naturalHeight || 1;
  const width = Math.min(container.clientWidth - 2, window.innerHeight * 0.62 * aspect);
  img.style.width = `${Math.round(width)}px`;
}

/** One situation, one review: how often it was seen again, and 复发 when it came back after a
 * closed ticket (incident API: sightings, recurrence_of). */
function sightingBadges(item) {
  return [
    item.sightings > 1 ? h("span.muted", { style: "margin-left:4px;white-space:nowrap" },
      t("recur.seen", { n: item.sightings })) : null,
    item.recurrence_of ? h("span.status.recurrence", { title: t("recur.of", { id: item.recurrence_of }),
      style: "margin-left:4px;white-space:nowrap" }, t("recur.badge")) : null,
  ];
}
