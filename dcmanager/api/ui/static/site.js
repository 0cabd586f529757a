// One subcloud: its details, its step in the strategy (with the earlier attempts),
// its applications with their release ledgers, and its own overrides of their charts.
// Refreshed every few seconds.

import { ApiError, get } from "./api.js";
import { clear, el, every } from "./dom.js";

const POLL_SECONDS = 3;
const FIELDS = [
  "availability-status",
  "management-state",
  "deploy-status",
  "software-version",
  "prestage-status",
  "prestage-versions",
  "app-sync-status",
  "error-description",
  "endpoint",
  "region-name",
  "updated-at",
];

async function optional(path) {
  try {
    return (await get(path)).data;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function details(subcloud) {
  return el(
    "dl",
    { id: "site-details" },
    FIELDS.filter((field) => subcloud[field] !== null && subcloud[field] !== undefined).map(
      (field) => [el("dt", { text: field }), el("dd", { "data-field": field, text: subcloud[field] })],
    ),
  );
}

function stepView(step) {
  if (!step) return el("p", { id: "site-step", text: "No step in the current strategy." });
  const history = step.history || [];
  return el(
    "div",
    { id: "site-step" },
    el("h3", { text: "Strategy step" }),
    el("p", { "data-field": "state", text: `${step.state} (attempt ${step.attempt})` }),
    step.details ? el("p", { "data-field": "details", text: step.details }) : null,
    history.length
      ? el(
          "ol",
          { class: "history" },
          history.map((entry) =>
            el("li", {
              text: `#${entry.attempt} ${entry["ended-at"] || ""} ${entry.failure ? `[${entry.failure}] ` : ""}${entry.details || ""}`,
            }),
          ),
        )
      : null,
  );
}

function appsView(apps) {
  if (!apps.length) return el("p", { id: "site-apps", text: "No applications." });
  return el(
    "table",
    { id: "site-apps" },
    el(
      "tr",
      {},
      ["application", "version", "status", "operation", "releases"].map((title) =>
        el("th", { text: title }),
      ),
    ),
    apps.map((app) =>
      el(
        "tr",
        { "data-app": app.name },
        el("td", { text: app.name }),
        el("td", { text: app.version || "" }),
        el("td", { text: app.status }),
        el("td", { text: app.operation ? JSON.stringify(app.operation) : "" }),
        el(
          "td",
          {},
          el(
            "ul",
            { class: "ledger" },
            (app.releases || []).map((release) =>
              el("li", {
                text: `${release.release} ${release.chart}-${release.chart_version} rev ${release.revision}`,
              }),
            ),
          ),
        ),
      ),
    ),
  );
}

// The subcloud's own overrides of its applications' charts (those it has), as YAML.
async function ownOverrides(name, apps) {
  const found = [];
  for (const app of apps) {
    const query = `app=${encodeURIComponent(app.name)}`;
    const charts = (await get(`/v1.0/helm_charts?${query}`)).data.charts;
    for (const chart of charts) {
      for (const namespace of chart.namespaces) {
        const path =
          `/v1.0/helm_charts/${encodeURIComponent(chart.name)}?${query}` +
          `&namespace=${encodeURIComponent(namespace)}&subcloud=${encodeURIComponent(name)}`;
        const values = (await get(path)).data.subcloud_overrides;
        if (values) found.push({ app: app.name, chart: chart.name, namespace, values });
      }
    }
  }
  return found;
}

function overridesView(overrides) {
  if (!overrides.length) return el("p", { id: "site-overrides", text: "No overrides of its own." });
  return el(
    "div",
    { id: "site-overrides" },
    overrides.map((entry) =>
      el(
        "div",
        { class: "override", "data-chart": entry.chart },
        el("p", { text: `${entry.app}: ${entry.chart} (${entry.namespace})` }),
        el("pre", { text: entry.values }),
      ),
    ),
  );
}

export function showSite(main, name) {
  const view = el("section", { id: "site" });
  const message = el("p", { role: "alert", class: "error" });
  main.append(el("h2", { text: `Subcloud ${name}` }), message, view);
  const quoted = encodeURIComponent(name);
  return every(POLL_SECONDS, async () => {
    const subcloud = await optional(`/v1.0/subclouds/${quoted}`);
    if (!subcloud) {
      message.textContent = `Subcloud ${name} does not exist.`;
      clear(view);
      return;
    }
    const [step, apps] = await Promise.all([
      optional(`/v1.0/sw-update-strategy/steps/${quoted}`),
      get(`/v1.0/subclouds/${quoted}/apps`).then((answer) => answer.data.apps),
    ]);
    const overrides = await ownOverrides(name, apps);
    clear(view).append(
      details(subcloud),
      stepView(step),
      el("h3", { text: "Applications" }),
      appsView(apps),
      el("h3", { text: "Its own overrides" }),
      overridesView(overrides),
    );
  });
}
