// Ticket board: list and filter, lifecycle buttons, after-photo upload, original images, audit trail,
// and what recurrence adds: still-present (仍存在) sightings and earlier tickets (复发).
import { get, imageUrl, post, query, upload } from "./api.js";
import { facts, geoPlot, h, localTime, shortTime, statusBadge, toast } from "./dom.js";
import { nameOf, t } from "./i18n.js";

// Mirrors serving.services.tickets.TRANSITIONS so only allowed buttons show; the server decides.
const TRANSITIONS = {
  dispatch: [["new", "rejected"], ["admin", "dispatcher"]],
  accept: [["dispatched"], ["admin", "dispatcher", "squad_officer"]],
  rectify: [["accepted"], ["admin", "squad_officer"]],
  close: [["rectified"], ["admin", "dispatcher"]],
  reject: [["dispatched", "accepted"], ["admin", "dispatcher", "squad_officer"]],
  cancel: [["new", "dispatched", "accepted", "rejected"], ["admin", "dispatcher"]],
  reopen: [["rectified", "closed", "cancelled"], ["admin", "dispatcher"]],
};
const STATUSES = ["new", "dispatched", "accepted", "rectified", "closed", "rejected", "cancelled"];

export async function render(root, { me, taxonomy, arg }) {
  const page = new TicketBoard(root, me, taxonomy);
  await page.start(arg ? Number(arg) : null);
  return page;
}

class TicketBoard {
  constructor(root, me, taxonomy) {
    this.root = root;
    this.me = me;
    this.taxonomy = taxonomy;
    this.tickets = [];
    this.currentId = null;
  }

  async start(wanted) {
    this.squads = await get("/squads").catch(() => []);
    this.squadNames = new Map(this.squads.map((s) => [s.id, s.name]));
    const opt = (value, label) => h("option", { value }, label);
    const officer = this.me.role === "squad_officer";
    const filters = h("form.filters", { id: "ticket-filters", onsubmit: (e) => { e.preventDefault(); this.load(); } },
      h("select", { name: "status", "aria-label": t("filter.status") }, opt("", `${t("filter.status")}: ${t("filter.any")}`),
        STATUSES.map((st) => opt(st, t(`ticket_status.${st}`)))),
      officer ? null : h("select", { name: "squad_id", "aria-label": t("filter.squad") },
        opt("", `${t("filter.squad")}: ${t("filter.any")}`), this.squads.map((s) => opt(s.id, s.name))),
      h("label", {}, h("input", { type: "checkbox", name: "overdue", value: "true" }), t("filter.overdue")),
      h("button.primary", { type: "submit" }, t("filter.apply")));
    this.root.append(filters, h("div.layout", {},
      h("div.card.list", { id: "ticket-list" }), h("div.card.detail", { id: "ticket-detail" })));
    this.currentId = wanted;
    await this.load();
  }

  async load() {
    const params = Object.fromEntries(new FormData(document.getElementById("ticket-filters")));
    try {
      this.tickets = await get(`/tickets${query({ ...params, limit: 500 })}`);
    } catch (err) {
      toast(err.message, true);
      return;
    }
    if (!this.tickets.some((x) => x.id === this.currentId)) this.currentId = this.tickets[0]?.id ?? null;
    this.renderList();
    await this.renderDetail();
  }

  renderList() {
    const rows = this.tickets.map((tk) => h(tk.id === this.currentId ? "tr.current" : "tr",
      { "data-id": tk.id, onclick: () => this.select(tk.id) },
      h("td", {}, `#${tk.id}`),
      h("td", {}, `${tk.clause} ${tk.clause_name}`),
      h("td", {}, this.squadNames.get(tk.squad_id) || t("none")),
      h("td", {}, statusBadge(tk.status, "ticket_status"), recurrenceBadge(tk)),
      h("td", tk.overdue ? { class: "overdue" } : {}, t(`priority.${tk.priority}`))));
    document.getElementById("ticket-list").replaceChildren(rows.length
      ? h("table", {}, h("tbody", {}, rows)) : h("p.muted", {}, t("tickets.empty")));
  }

  /** Open ticket ``id`` from a link (Back returns), fetching it where the filters leave it out. */
  async open(id) {
    if (!this.tickets.some((x) => x.id === id)) {
      try {
        this.tickets.push(await get(`/tickets/${id}`));
      } catch (err) {
        toast(err.message, true);
        return;
      }
    }
    history.pushState(null, "", `#/tickets/${id}`);
    await this.select(id);
  }

  async select(id) {
    this.currentId = id;
    history.replaceState(null, "", `#/tickets/${id}`);
    this.renderList();
    await this.renderDetail();
  }

  allowed(ticket) {
    return Object.entries(TRANSITIONS)
      .filter(([, [from, roles]]) => from.includes(ticket.status) && roles.includes(this.me.role))
      .map(([action]) => action);
  }

  async renderDetail() {
    const box = document.getElementById("ticket-detail");
    const tk = this.tickets.find((x) => x.id === this.currentId);
    if (!tk) {
      box.replaceChildren(h("p.muted", {}, t("tickets.empty")));
      return;
    }
    const standard = this.taxonomy.standards.find((st) => st.id === tk.standard);
    const note = h("input", { id: "action-note", placeholder: t("tickets.note"), maxlength: 2000 });
    const squadPick = h("select", { id: "dispatch-squad", "aria-label": t("fact.squad") },
      this.squads.map((s) => h("option", { value: s.id, selected: s.id === tk.squad_id }, s.name)));
    const photo = h("input", { type: "file", id: "after-photo", accept: "image/jpeg,image/png,image/webp" });
    const actions = this.allowed(tk);
    const buttons = actions.map((a) => h(a === "reject" || a === "cancel" ? "button.bad" : "button.primary",
      { type: "button", "data-action": a, onclick: () => this.act(tk, a) }, t(`action.${a}`)));
    const events = await get(`/tickets/${tk.id}/events`).catch(() => []);
    box.replaceChildren(
      h("div.toolbar", {}, h("strong", {}, `#${tk.id}`), statusBadge(tk.status, "ticket_status"),
        tk.overdue ? h("span.overdue", {}, "⚠") : null, recurrenceBadge(tk)),
      facts([
        ["fact.standard", `${tk.standard} ${nameOf(standard) || tk.standard_name}`],
        ["fact.clause", `${tk.clause} ${tk.clause_name}`],
        ["fact.description", tk.description],
        ["fact.priority", `${t(`priority.${tk.priority}`)} (${tk.priority_reasons.map((r) => t(`priority_reason.${r}`)).join("、")})`],
        ["fact.squad", this.squadNames.get(tk.squad_id) || t("none")],
        ["fact.road", tk.road],
        ["fact.camera", tk.camera_id],
        ["fact.time", localTime(tk.observed_at)],
        ["fact.due", localTime(tk.due_at)],
        ["fact.location", geoPlot(tk.lat, tk.lon)],
        ...this.recurrenceFacts(tk),
      ]),
      h("div.toolbar", {}, buttons,
        actions.includes("dispatch") ? squadPick : null,
        actions.includes("rectify") ? h("label", {}, t("tickets.upload"), " ", photo) : null,
        actions.length ? note : null),
      h("strong", {}, t("tickets.evidence")), this.thumbs(tk.evidence),
      ...(tk.observations ? [h("strong", {}, t("tickets.observationEvidence")),
        this.thumbs(tk.last_observation_evidence, "observation-evidence")] : []),
      h("strong", {}, t("tickets.after")), this.thumbs(tk.after_photo ? [tk.after_photo] : []),
      h("strong", {}, t("tickets.events")),
      h("ol.events", {}, events.map((e) => h("li", {},
        `${localTime(e.at)} · ${t(`action.${e.action}`)} · ${e.from_status ? t(`ticket_status.${e.from_status}`) : ""} → ${t(`ticket_status.${e.to_status}`)}`,
        h("span.muted.actor", { title: e.actor_username || "" }, ` · ${actorName(e)}`),
        e.note ? h("div.muted", {}, e.note) : null))));
  }

  /** Fact rows for a ticket that cameras still see, or that a closed one came back as. */
  recurrenceFacts(tk) {
    const rows = [];
    if (tk.observations) {
      rows.push(["fact.stillPresent", h("span", { id: "still-present" },
        t("tickets.observed", { n: tk.observations, at: localTime(tk.last_observed_at) }))]);
    }
    if (tk.history.length) {
      const links = tk.history.map((ref) => h("a", {
        href: `#/tickets/${ref.id}`, "data-ticket": ref.id,
        onclick: (e) => { e.preventDefault(); this.open(ref.id); },
      }, t("tickets.earlier", { id: ref.id, status: t(`ticket_status.${ref.status}`),
        at: ref.closed_at ? ` ${shortTime(ref.closed_at)}` : "" })));
      rows.push(["fact.recurrence", h("span", { id: "ticket-history" },
        links.flatMap((a, i) => (i ? [t("list.sep"), a] : [a])))]);
    }
    return rows;
  }

  thumbs(shas, id = null) {
    const row = h("div.thumbs", { id });
    if (!shas.length) row.append(t("none"));
    for (const sha of shas) {
      const img = h("img", { alt: sha.slice(0, 12), title: sha, "data-sha": sha });
      imageUrl(`/evidence/${sha}`).then((url) => {
        img.src = url;
        img.onclick = () => window.open(url, "_blank");
      }).catch(() => img.replaceWith(h("span.muted", {}, sha.slice(0, 12))));
      row.append(img);
    }
    return row;
  }

  async act(ticket, action) {
    const body = { note: document.getElementById("action-note")?.value || "" };
    try {
      if (action === "dispatch") body.squad_id = Number(document.getElementById("dispatch-squad").value) || null;
      if (action === "rectify") {
        const file = document.getElementById("after-photo").files[0];
        if (!file) throw new Error(t("tickets.upload"));
        body.after_photo = (await upload(file)).sha256;
      }
      const updated = await post(`/tickets/${ticket.id}/${action}`, body);
      this.tickets[this.tickets.findIndex((x) => x.id === ticket.id)] = updated;
      toast(`${t(`action.${action}`)} ✓`);
    } catch (err) {
      toast(err.message, true);
    }
    this.renderList();
    await this.renderDetail();
  }
}

/** 复发 on a ticket whose situation came back after an earlier ticket was closed. */
function recurrenceBadge(ticket) {
  if (!ticket.history.length) return null;
  const title = t("recur.ofTicket", { id: ticket.history[0].id });
  return h("span.status.recurrence", { title, style: "margin-left:4px" }, t("recur.badge"));
}

/** Who did it: the full name, else the login; "system" for what the workers did. */
function actorName(event) {
  if (event.actor_id == null) return t("tickets.system");
  return event.actor_name || event.actor_username || `#${event.actor_id}`;
}
