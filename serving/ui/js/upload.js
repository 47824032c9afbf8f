// Uploads from the browser: photos (POST /ingest/photos → incidents) and dashcam videos with an
// optional GPS track (POST /ingest/videos → a job, polled at GET /jobs/{id} until it ends).
import { ApiError, describe, get, postForm } from "./api.js";
import { h } from "./dom.js";
import { currentLang, t } from "./i18n.js";

// What the service takes: photos judged by content (JPEG, PNG, WebP), videos and tracks by
// extension (serving.services.jobs VIDEO_SUFFIXES, GPS_SUFFIXES). Anything else is refused here.
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
const PHOTO_EXTS = [".jpg", ".jpeg", ".png", ".webp"];
const PHOTO_NAMES = [".jpeg", ".png", ".webp"];
const VIDEO_EXTS = [".mp4", ".mov", ".m4v", ".avi", ".mkv", ".ts", ".webm"];
const TRACK_EXTS = [".gpx", ".nmea", ".txt", ".srt", ".log"];
const RUNNING = ["queued", "running"];
const POLL_MS = 1000;
const REVIEWERS = ["admin", "reviewer"];

export async function render(root, { me }) {
  const page = new UploadPage(root, me);
  page.start();
  return page;
}

function extension(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}

/** "photo", "video" or null: by the browser's type, else (no type known) by the extension. */
function kindOf(file) {
  const ext = extension(file.name);
  if (PHOTO_TYPES.includes(file.type) || (!file.type && PHOTO_EXTS.includes(ext))) return "photo";
  const videoType = !file.type || file.type.startsWith("video/") || ext === ".ts"; // .ts: often typed as code
  return VIDEO_EXTS.includes(ext) && videoType ? "video" : null;
}

const list = (exts) => exts.map((e) => e.slice(1).toUpperCase()).join(currentLang() === "en" ? ", " : "、");

/** A refusal as the user reads it: the message in their language and, where that is more
 * general than the server's detail (which types, which limit), the detail too. */
function refusal(err) {
  if (!(err instanceof ApiError)) return String(err.message || err);
  if (err.status === 0) return t("upload.network");
  const detail = describe(err.detail);
  if (!detail || err.message.includes(detail)) return err.message;
  return currentLang() === "en" ? `${err.message} (${detail})` : `${err.message}（${detail}）`;
}

/** Frames analysed, against about how many the whole video gives where the job knows. */
function frameCount(job) {
  if (job.expected_frames == null) return `${job.frames} ${t("upload.frames")}`;
  return t("job.expected", { frames: job.frames, expected: job.expected_frames });
}

/** Seconds analysed and the container's duration, for job.coverage and job.partialWhy. */
function seconds(job) {
  return { analysed: (job.analysed_s ?? 0).toFixed(1), duration: (job.duration_s ?? 0).toFixed(1) };
}

class UploadPage {
  constructor(root, me) {
    this.root = root;
    this.me = me;
    this.timers = new Set();
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
  }

  start() {
    this.files = h("input", { type: "file", id: "upload-files", multiple: true, "aria-label": t("upload.files"),
      accept: [...PHOTO_TYPES, "video/*", ...VIDEO_EXTS].join(",") });
    this.track = h("input", { type: "file", id: "upload-gps", "aria-label": t("upload.gps"), accept: TRACK_EXTS.join(",") });
    this.error = h("p.error", { id: "upload-error", role: "alert" });
    this.results = h("ol.uploads", { id: "upload-results" });
    const form = h("form.card.upload", { id: "upload-form", onsubmit: (e) => { e.preventDefault(); this.submit(); },
      ondragover: (e) => { e.preventDefault(); form.classList.add("over"); },
      ondragleave: () => form.classList.remove("over"),
      ondrop: (e) => { e.preventDefault(); form.classList.remove("over"); this.files.files = e.dataTransfer.files; } },
      h("h2", {}, t("upload.title")),
      h("p.muted", {}, t("upload.hint", { photos: list(PHOTO_NAMES), videos: list(VIDEO_EXTS) })),
      h("label", {}, h("span", {}, t("upload.files")), this.files),
      h("label", {}, h("span", {}, t("upload.gps")), this.track),
      h("div.toolbar", {}, h("button.primary", { type: "submit", id: "upload-submit" }, t("upload.submit"))),
      this.error);
    this.root.append(form, h("div.card", {}, h("strong", {}, t("upload.results")), this.results));
  }

  /** The chosen files checked as a whole: a refusal message, or what to send. */
  check() {
    const files = [...this.files.files];
    const track = this.track.files[0] || null;
    if (!files.length) return { refused: t("upload.none") };
    const bad = files.find((f) => !kindOf(f));
    if (bad) return { refused: t("upload.notMedia", { name: bad.name, photos: list(PHOTO_NAMES), videos: list(VIDEO_EXTS) }) };
    if (track && !TRACK_EXTS.includes(extension(track.name))) return { refused: t("upload.notTrack", { name: track.name }) };
    const videos = files.filter((f) => kindOf(f) === "video");
    if (track && videos.length !== 1) return { refused: t("upload.trackNeedsVideo", { n: videos.length }) };
    return { photos: files.filter((f) => kindOf(f) === "photo"), videos, track };
  }

  async submit() {
    const plan = this.check();
    this.error.textContent = plan.refused || "";
    if (plan.refused) return;
    const button = document.getElementById("upload-submit");
    button.disabled = true;
    try {
      // One photo a request: each gets its own result or its own refusal.
      for (const photo of plan.photos) await this.sendPhoto(photo);
      for (const video of plan.videos) await this.sendVideo(video, plan.track);
    } finally {
      button.disabled = false;
      this.files.value = "";
      this.track.value = "";
    }
  }

  row(kind, file) {
    const status = h("span.upload-status", {}, t("upload.sending", { pct: 0 }));
    const body = h("div.upload-body");
    const li = h("li", { "data-kind": kind, "data-name": file.name },
      h("div.toolbar", {}, h("strong", {}, `${t(`upload.${kind}`)} · ${file.name}`), status), body);
    this.results.prepend(li);
    return { li, status, body, progress: (p) => {
      status.textContent = p < 1 ? t("upload.sending", { pct: Math.round(p * 100) }) : t("job.running");
    } };
  }

  fail(row, err) {
    row.li.classList.add("failed");
    row.status.replaceChildren(h("span.bad", { role: "alert" }, refusal(err)));
  }

  async sendPhoto(file) {
    const row = this.row("photo", file);
    const form = new FormData();
    form.append("file", file);
    try {
      const { body: [result] } = await postForm("/ingest/photos", form, row.progress);
      this.showPhoto(row, result);
    } catch (err) {
      this.fail(row, err);
    }
  }

  showPhoto(row, result) {
    row.li.dataset.sha = result.photo.sha256;
    const found = result.incidents;
    row.status.textContent = `${result.created ? t("upload.created") : t("upload.again")} · ${
      found.length ? t("upload.found", { n: found.length }) : t("upload.clean")}`;
    const at = result.location ? `${result.location.lat.toFixed(5)}, ${result.location.lon.toFixed(5)}` : null;
    row.body.replaceChildren(
      at ? h("div.muted", {}, `${t("fact.location")}: ${at}`) : "",
      h("ul.found", {}, found.map((i) => h("li", { "data-incident": i.id }, this.incidentLink(i)))));
  }

  incidentLink(incident) {
    const text = `#${incident.id} ${incident.clause} ${incident.clause_name || ""} · ${incident.confidence.toFixed(2)}`;
    return REVIEWERS.includes(this.me.role) ? h("a", { href: `#/review/${incident.id}` }, text) : h("span", {}, text);
  }

  async sendVideo(file, track) {
    const row = this.row("video", file);
    const form = new FormData();
    form.append("file", file);
    if (track) form.append("gps", track);
    try {
      const { status, body: job } = await postForm("/ingest/videos", form, row.progress);
      row.again = status === 200;
      row.track = track?.name;
      this.showJob(row, job);
    } catch (err) {
      this.fail(row, err);
    }
  }

  showJob(row, job) {
    row.li.dataset.job = job.id;
    row.li.dataset.status = job.status;
    const done = !RUNNING.includes(job.status);
    const word = h(`span.status.job-${job.status}`, { "data-status": job.status }, t(`job.${job.status}`));
    row.status.replaceChildren(word, ` · #${job.id}`, row.again ? ` · ${t("upload.jobAgain")}` : "");
    row.body.replaceChildren(
      h("div.toolbar", {},
        h("progress", { max: 1, value: job.progress }), `${Math.round(job.progress * 100)}%`,
        h("span.muted.job-counts", {}, `${frameCount(job)} · ${job.incidents} ${t("upload.incidents")}`),
        job.duration_s != null ? h("span.muted.job-coverage", {}, t("job.coverage", seconds(job))) : null,
        row.track ? h("span.muted", {}, t("upload.track", { name: row.track })) : null,
        done && job.incidents && REVIEWERS.includes(this.me.role) ? h("a", { href: "#/review" }, t("upload.review")) : null),
      job.error ? h("p.error.job-error", {}, job.status === "partial" ? t("job.partialWhy", seconds(job)) : job.error) : "");
    if (!done) this.later(() => this.poll(row, job.id));
  }

  async poll(row, id) {
    try {
      this.showJob(row, await get(`/jobs/${id}`));
    } catch (err) {
      this.fail(row, err);
    }
  }

  later(fn) {
    if (!this.results.isConnected) this.stop(); // logged out: the page is gone
    if (this.stopped) return;
    const timer = setTimeout(() => { this.timers.delete(timer); if (!this.stopped) fn(); }, POLL_MS);
    this.timers.add(timer);
  }
}
