// The dashboard's shell: the session, the header and the views behind #/fleet,
// #/strategy and #/site/NAME.

import { forget, get, post, remember, revoke, session } from "./api.js";
import { clear, el } from "./dom.js";
import { showFleet } from "./fleet.js";
import { showSite } from "./site.js";
import { showStrategy } from "./strategy.js";

const main = document.getElementById("main");
let stopView = () => {};

// A session as the server's login gives it: a token, the user, the allowed actions.
async function ensureSession() {
  if (session()) return true;
  const config = (await get("/ui/config")).data;
  if (config.auth !== "keystone") {
    remember((await post("/ui/login", {})).data);
    return true;
  }
  return false;
}

function showHeader() {
  const current = session();
  document.getElementById("who").textContent = current
    ? `${current.user} (${current.roles.join(", ")})`
    : "";
  const logout = document.getElementById("logout");
  logout.hidden = !current || current.token === "noauth";
}

function showLogin() {
  const message = el("p", { class: "error", role: "alert", id: "login-error" });
  const form = el(
    "form",
    { id: "login", class: "panel" },
    el("h2", { text: "Log in" }),
    el("label", {}, "User ", el("input", { name: "username", autocomplete: "username", required: true })),
    el(
      "label",
      {},
      "Password ",
      el("input", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    ),
    el("label", {}, "Project ", el("input", { name: "project", value: "admin", required: true })),
    el("button", { type: "submit", text: "Log in" }),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form));
    try {
      remember((await post("/ui/login", fields)).data);
      location.hash = "#/fleet";
    } catch (error) {
      message.textContent = error.message;
    }
  });
  main.append(form);
  return () => {};
}

let routed = 0; // the latest route: an earlier one still waiting gives way

function siteName(encoded) {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded; // not percent-encoded: taken as it is
  }
}

async function route() {
  stopView();
  stopView = () => {};
  clear(main);
  const current = ++routed;
  const hash = location.hash || "#/fleet";
  const known = hash === "#/login" || (await ensureSession());
  if (current !== routed) return;
  if (!known) {
    location.hash = "#/login";
    return;
  }
  showHeader();
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", hash.startsWith(link.getAttribute("href")));
  }
  if (hash === "#/login") stopView = showLogin();
  else if (hash.startsWith("#/strategy")) stopView = showStrategy(main);
  else if (hash.startsWith("#/site/")) stopView = showSite(main, siteName(hash.slice(7)));
  else stopView = showFleet(main);
}

// Logging out: the page forgets the token at once, then asks for it to be revoked at
// Keystone (should that fail, the token lives on until it expires).
document.getElementById("logout").addEventListener("click", () => {
  const current = session();
  forget();
  location.hash = "#/login";
  if (current && current.token) revoke(current.token);
});
window.addEventListener("hashchange", route);
route();
