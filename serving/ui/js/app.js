// Shell: login, navigation by URL hash (#/review/12, #/tickets/3, #/cameras, #/dashboard/2026-05-04,
// #/upload), language toggle.
import { ApiError, get, login, request, setToken, token } from "./api.js";
import { currentLang, setLang, t, translateStatic } from "./i18n.js";

const PAGES = {
  review: () => import("./review.js"),
  tickets: () => import("./tickets.js"),
  cameras: () => import("./cameras.js"),
  dashboard: () => import("./dashboard.js"),
  upload: () => import("./upload.js"),
};
const HOME = {
  reviewer: "review", admin: "review", dispatcher: "tickets", squad_officer: "tickets", ingest: "upload",
};
const ALLOWED = {
  admin: ["review", "tickets", "cameras", "dashboard", "upload"],
  reviewer: ["review", "tickets", "dashboard"],
  dispatcher: ["tickets", "cameras", "dashboard", "upload"],
  squad_officer: ["tickets", "dashboard"],
  ingest: ["upload"], // photo and dashcam uploads (the API's IngestUser roles)
};

const state = { me: null, taxonomy: null, current: null };

async function start() {
  translateStatic();
  document.getElementById("lang").textContent = currentLang() === "en" ? "中文" : "EN";
  document.getElementById("lang").addEventListener("click", () => {
    setLang(currentLang() === "en" ? "zh" : "en");
    document.getElementById("lang").textContent = currentLang() === "en" ? "中文" : "EN";
    route();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } catch { /* token already gone */ }
    setToken(null);
    showLogin();
  });
  document.getElementById("login").addEventListener("submit", onLogin);
  window.addEventListener("hashchange", route);
  window.addEventListener("shirong:logout", showLogin);
  if (token()) await enter();
  else showLogin();
}

async function onLogin(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await login(form.get("username"), form.get("password"));
    await enter();
  } catch (err) {
    // The server's reason (wrong password, too many attempts, busy) in the user's language.
    document.getElementById("login-error").textContent = err instanceof ApiError ? err.message : t("login.failed");
  }
}

function showLogin() {
  state.me = null;
  document.getElementById("login").hidden = false;
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("page").replaceChildren();
}

async function enter() {
  state.me = await get("/me");
  // The taxonomy is for the staff pages; the ingest role (uploads only) may not read it.
  if (state.me.role !== "ingest") state.taxonomy = state.taxonomy || (await get("/taxonomy"));
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = `${state.me.full_name || state.me.username}`;
  for (const a of document.querySelectorAll("#nav a")) {
    a.hidden = !ALLOWED[state.me.role]?.includes(a.dataset.page);
  }
  route();
}

async function route() {
  if (!state.me) return;
  const [name, arg] = location.hash.replace(/^#\/?/, "").split("/");
  const allowed = ALLOWED[state.me.role] || [];
  if (!allowed.includes(name)) {
    location.hash = `#/${HOME[state.me.role] || allowed[0] || ""}`;
    return;
  }
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.page === name);
  }
  if (state.current?.stop) state.current.stop();
  const module = await PAGES[name]();
  const root = document.getElementById("page");
  root.replaceChildren();
  state.current = await module.render(root, { me: state.me, taxonomy: state.taxonomy, arg });
}

start();
