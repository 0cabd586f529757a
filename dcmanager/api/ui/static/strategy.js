// The strategy: its settings and window, a bar per phase, the steps counted by state,
// the bytes moved and those of the transfers under way, the estimated end, the failures with their reasons,
// and the actions the user may take. It polls the strategy's summary (an answer whose
// size does not grow with the fleet), with If-None-Match.

import { ApiError, del, get, post, session } from "./api.js";
import { clear, el, every, formatBytes } from "./dom.js";

const POLL_SECONDS = 1;
const FAILURES_SHOWN = 50;
const PHASES = {
  prestage: [
    "prestage-precheck",
    "prestage-preparing-packages",
    "prestaging-packages",
    "prestaging-images",
  ],
  "app-update": ["app-update-precheck", "app-uploading", "app-applying", "app-cleanup"],
};
// A step in one of these states has passed every phase.
const ENDED = ["complete", "failed", "aborted", "skipped"];
// The actions, the strategy states each applies in, and what the confirmation asks.
const ACTIONS = [
  ["apply", ["initial"], "Apply the strategy?"],
  ["pause", ["applying"], "Pause: no step starts, running ones finish?"],
  ["resume", ["pausing", "paused"], "Resume the strategy?"],
  ["abort", ["applying", "pausing", "paused"], "Abort: steps not started will not start?"],
  ["retry-failed", ["failed"], "Run the failed steps again?"],
  ["delete", ["initial", "complete", "failed", "aborted"], "Delete the strategy and its steps?"],
];

function allowed(action) {
  const current = session();
  return Boolean(current && current.allowed && current.allowed[action]);
}

// Steps past each phase of the strategy's type (done with it, or ended), and in it.
function phaseBars(type, counts, total) {
  const phases = PHASES[type] || [];
  return phases.map((phase, index) => {
    const later = [...phases.slice(index + 1), ...ENDED, "app-rolling-back", "app-recovering"];
    const passed = later.reduce((sum, state) => sum + (counts[state] || 0), 0);
    const here = counts[phase] || 0;
    const percent = (n) => (total ? (100 * n) / total : 0);
    return el(
      "div",
      { class: "phase", "data-phase": phase },
      el("span", { class: "phase-name", text: phase }),
      el(
        "span",
        { class: "bar" },
        el("span", { class: "passed", style: `width:${percent(passed)}%` }),
        el("span", { class: "here", style: `width:${percent(here)}%` }),
      ),
      el("span", { class: "phase-count", text: `${passed}/${total} past it, ${here} in it` }),
    );
  });
}

function settings(strategy) {
  const extra = strategy["extra-args"] || {};
  const rows = [
    ["type", strategy.type],
    ["state", strategy.state],
    ["apply type", strategy["subcloud-apply-type"]],
    ["max parallel", strategy["max-parallel-subclouds"]],
    ["stop on failure", String(strategy["stop-on-failure"])],
    ["release", extra["prestage-software-version"]],
    ["application", extra.app && `${extra.app} ${extra.version}`],
    ["window", windowText(extra)],
    ["estimated end", strategy.eta && new Date(strategy.eta).toLocaleString()],
    ["created", new Date(strategy["created-at"]).toLocaleString()],
  ];
  return el(
    "dl",
    { id: "strategy-settings" },
    rows.filter(([, value]) => value !== undefined && value !== null && value !== "").map(
      ([name, value]) => [el("dt", { text: name }), el("dd", { "data-field": name, text: value })],
    ),
  );
}

function windowText(extra) {
  const start = extra["start-after"];
  const end = extra["no-new-steps-after"];
  if (!start && !end) return null;
  return `${start ? `from ${start}` : "now"} ${end ? `until ${end}` : ""}`.trim();
}

// The bytes the steps moved (finished transfers and those under way), and how far the
// transfers under way are; nothing before any byte moved.
function transfersLine(transfers) {
  if (!transfers["bytes-moved"] && !transfers["bytes-total"]) {
    return null;
  }
  let text = `Moved: ${formatBytes(transfers["bytes-moved"])}`;
  if (transfers["bytes-total"]) {
    text += ` · under way: ${formatBytes(transfers["bytes-done"])} of ${formatBytes(transfers["bytes-total"])}`;
  }
  return el("p", { id: "transfers", text });
}

function countsList(counts) {
  return el(
    "ul",
    { id: "step-counts" },
    Object.entries(counts).map(([state, count]) =>
      el("li", { "data-state": state, text: `${state} ${count}` }),
    ),
  );
}

function actionButtons(strategy, act) {
  return el(
    "div",
    { id: "actions" },
    ACTIONS.filter(([action, states]) => states.includes(strategy.state) && allowed(action)).map(
      ([action, , question]) =>
        el("button", {
          type: "button",
          "data-action": action,
          text: action,
          onclick: () => {
            if (window.confirm(question)) act(action);
          },
        }),
    ),
  );
}

function failuresList(failures) {
  if (!failures.length) return el("div", { id: "failures" });
  return el(
    "div",
    { id: "failures" },
    el("h3", { text: "Failures" }),
    el(
      "ul",
      {},
      failures.map((step) =>
        el(
          "li",
          { "data-cloud": step.cloud },
          el("a", { href: `#/site/${encodeURIComponent(step.cloud)}`, text: step.cloud }),
          `: ${step.details || "failed"}`,
        ),
      ),
    ),
  );
}

// The API takes the password base64-encoded (of its UTF-8 bytes).
function base64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

function createForm(onCreated, report) {
  const form = el(
    "form",
    { id: "create", class: "panel" },
    el("h3", { text: "Create a strategy" }),
    el(
      "label",
      {},
      "Type ",
      el(
        "select",
        { name: "type" },
        el("option", { value: "prestage", text: "prestage" }),
        el("option", { value: "app-update", text: "app-update" }),
      ),
    ),
    el("label", {}, "Max parallel ", el("input", { name: "max", type: "number", min: 1, value: 10 })),
    el("label", {}, "Group ", el("input", { name: "group", placeholder: "every subcloud" })),
    el("label", {}, "sysadmin password (prestage) ", el("input", { name: "password", type: "password" })),
    el("label", {}, "Application (app-update) ", el("input", { name: "app" })),
    el("button", { type: "submit", text: "Create" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form));
    const body = { type: fields.type, "max-parallel-subclouds": Number(fields.max) };
    if (fields.group) body.subcloud_group = fields.group;
    if (fields.type === "prestage") body.sysadmin_password = base64(fields.password);
    else body.app = fields.app;
    try {
      await post("/v1.0/sw-update-strategy", body);
      onCreated();
    } catch (error) {
      report(error.message);
    }
  });
  return form;
}

export function showStrategy(main) {
  const message = el("p", { id: "strategy-message", role: "alert", class: "error" });
  const view = el("section", { id: "strategy" });
  main.append(el("h2", { text: "Strategy" }), message, view);
  let etag = null;
  let failedCount = null;
  let failures = [];
  let summary = null;

  async function act(action) {
    try {
      if (action === "delete") await del("/v1.0/sw-update-strategy");
      else await post("/v1.0/sw-update-strategy/actions", { action });
      message.textContent = "";
      etag = null;
      await refresh();
    } catch (error) {
      message.textContent = error.message;
    }
  }

  function render() {
    clear(view);
    if (!summary) {
      view.append(el("p", { id: "no-strategy", text: "No strategy." }));
      if (allowed("create")) {
        view.append(
          createForm(
            () => {
              etag = null;
              refresh();
            },
            (text) => (message.textContent = text),
          ),
        );
      }
      return;
    }
    const { strategy } = summary;
    const counts = summary["step-counts"];
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    const transfers = summary.transfers;
    const parts = [
      settings(strategy),
      actionButtons(strategy, act),
      el("div", { id: "phases" }, phaseBars(strategy.type, counts, total)),
      countsList(counts),
      transfersLine(transfers),
      failuresList(failures),
    ];
    view.append(...parts.filter(Boolean));
  }

  async function refresh() {
    let answer;
    try {
      answer = await get("/v1.0/sw-update-strategy/summary", etag);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      if (summary !== null || !view.firstChild) {
        summary = null;
        etag = null;
        render();
      }
      return;
    }
    if (answer.notModified) return;
    etag = answer.etag;
    summary = answer.data;
    // The failures are asked for again when their number or the strategy changed.
    const failed = `${summary.strategy.id}:${summary["step-counts"].failed || 0}`;
    if (failed !== failedCount) {
      const path = `/v1.0/sw-update-strategy/steps?state=failed&limit=${FAILURES_SHOWN}`;
      failures = summary["step-counts"].failed ? (await get(path)).data["strategy-steps"] : [];
      failedCount = failed;
    }
    render();
  }

  return every(POLL_SECONDS, refresh);
}
