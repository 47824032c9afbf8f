// Daily table (一表通办): the squad × standard grid of /reports/daily and its 7-day trend chart.
import { get, query } from "./api.js";
import { h, toast } from "./dom.js";
import { currentLang, nameOf, t } from "./i18n.js";

// Counts of each grid cell, in the order of the server's columns (serving.services.reports.METRICS).
const METRICS = ["new", "dispatched", "rectified", "closed", "overdue"];

export async function render(root, { arg }) {
  const page = new Dashboard(root);
  await page.start(arg || "");
  return page;
}

class Dashboard {
  constructor(root) {
    this.root = root;
    this.urls = [];
  }

  stop() {
    for (const url of this.urls) URL.revokeObjectURL(url);
  }

  async start(day) {
    const picker = h("input", { type: "date", id: "report-day", "aria-label": t("report.day"), value: day });
    picker.addEventListener("change", () => {
      history.replaceState(null, "", `#/dashboard/${picker.value}`);
      this.load(picker.value);
    });
    this.root.append(
      h("div.toolbar.filters", {}, h("strong", {}, t("report.title")), picker,
        h("button", { type: "button", id: "report-csv", onclick: () => this.download("csv") }, "CSV"),
        h("button", { type: "button", id: "report-print", onclick: () => this.download("html") },
          t("report.print"))),
      h("div.card.report", { id: "report-grid" }),
      h("div.card.report", {}, h("img", { id: "report-chart", alt: t("report.trend") })));
    this.picker = picker;
    await this.load(day);
  }

  async load(day) {
    try {
      this.report = await get(`/reports/daily${query({ day })}`);
    } catch (err) {
      toast(err.message, true);
      return;
    }
    this.picker.value = this.report.day;
    document.getElementById("report-grid").replaceChildren(this.table(this.report));
    const chart = await get(`/reports/daily/chart${query({ day: this.report.day, lang: currentLang() })}`);
    document.getElementById("report-chart").src = this.keep(URL.createObjectURL(chart));
  }

  table(report) {
    const groups = [...report.standards.map((st) => `${st.id} ${nameOf(st)}`), t("report.total")];
    const head = h("thead", {},
      h("tr", {}, h("th", { rowspan: 2 }, t("fact.squad")),
        groups.map((g) => h("th", { colspan: METRICS.length }, g))),
      h("tr", {}, groups.flatMap(() => METRICS.map((m) => h("th", {}, t(`report.${m}`))))));
    const line = (label, cells, total, attrs) => h("tr", attrs,
      h("th", {}, label),
      [...cells, total].flatMap((c, i) => METRICS.map((m) => h(
        i === cells.length ? "td.sum" : c[m] ? "td" : "td.zero", { "data-metric": m }, String(c[m])))));
    const body = h("tbody", {}, report.rows.map((row) => line(
      row.squad_id == null ? t("report.unassigned") : row.squad, row.cells, row.total,
      { "data-squad": row.squad_id ?? "none" })));
    const foot = h("tfoot", {}, line(t("report.total"), report.totals, report.total, { "data-squad": "total" }));
    return h("div.scroll", {}, h("table.grid", { id: "report-table" }, head, body, foot));
  }

  async download(format) {
    try {
      const blob = await get(`/reports/daily${query({ day: this.report?.day, format })}`);
      const url = this.keep(URL.createObjectURL(blob));
      if (format === "html") {
        window.open(url, "_blank");
        return;
      }
      const link = h("a", { href: url, download: `shirong-${this.report.day}.${format}` });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (err) {
      toast(err.message, true);
    }
  }

  keep(url) {
    this.urls.push(url);
    return url;
  }
}
