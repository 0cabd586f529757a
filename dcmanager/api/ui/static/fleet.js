// The fleet: every subcloud a cell of a grid, grouped by subcloud group and coloured by
// the state chosen. The grid is drawn on a canvas, only the rows in view, so that
// 50,000 cells cost what a screenful does. The subclouds come in pages; then every
// few seconds only those changed since the last answer (?changed-since=).

import { get } from "./api.js";
import { clear, el, every } from "./dom.js";

const PAGE = 5000;
const CELL = 12;
const PITCH = 14; // a cell and the gap after it
const HEADER = 26; // a group's title row
const UPDATE_SECONDS = 3;
const RELOAD_SECONDS = 300; // a whole reload now and then: it sees deleted subclouds
const EPOCH = "1970-01-01T00:00:00Z";
const NONE = "#d5d8dc";

// What a cell's colour says, and the colour of each value.
export const SCHEMES = {
  availability: {
    field: "availability-status",
    colors: { online: "#2e9d4d", offline: "#c9372c" },
  },
  management: {
    field: "management-state",
    colors: { managed: "#2f6fb5", unmanaged: "#9aa0a6" },
  },
  prestage: {
    field: "prestage-status",
    colors: { complete: "#2e9d4d", prestaging: "#2f6fb5", failed: "#c9372c" },
  },
  applications: {
    field: "app-sync-status",
    colors: { "in-sync": "#2e9d4d", "out-of-sync": "#e08a00", unknown: "#9aa0a6" },
  },
};

// Timings the benchmark and the tests read: the first render, the last update.
const timings = (window.dcmanagerTimings = { started: performance.now() });

class Fleet {
  constructor() {
    this.byId = new Map();
    this.groups = new Map();
    this.since = null;
  }

  // Every subcloud, page by page: the first load shows each page as it comes; a
  // reload replaces the list once it has every page.
  async reload(onPage) {
    const groups = (await get("/v1.0/subcloud-groups")).data.subcloud_groups;
    const first = this.byId.size === 0;
    const byId = new Map();
    let marker = 0;
    let since = null;
    for (;;) {
      const query = `changed-since=${EPOCH}&limit=${PAGE}&marker=${marker}`;
      const page = (await get(`/v1.0/subclouds?${query}`)).data;
      since = since || page["next-changed-since"];
      for (const subcloud of page.subclouds) byId.set(subcloud.id, subcloud);
      const last = page.subclouds.length < PAGE;
      if (first || last) this.show(groups, byId, onPage);
      if (last) break;
      marker = page.subclouds[page.subclouds.length - 1].id;
    }
    this.since = since;
  }

  show(groups, byId, onShown) {
    this.groups = new Map(groups.map((group) => [group.id, group.name]));
    this.byId = byId;
    onShown();
  }

  // The subclouds changed since the last answer; how many came.
  async update() {
    const path = `/v1.0/subclouds?changed-since=${encodeURIComponent(this.since)}`;
    const answer = (await get(path)).data;
    for (const subcloud of answer.subclouds) this.byId.set(subcloud.id, subcloud);
    this.since = answer["next-changed-since"];
    return answer.subclouds.length;
  }
}

class Grid {
  constructor(scroller, canvas, spacer, onPick) {
    this.scroller = scroller;
    this.canvas = canvas;
    this.spacer = spacer;
    this.rows = [];
    this.scheme = SCHEMES.availability;
    scroller.addEventListener("scroll", () => this.draw());
    canvas.addEventListener("click", (event) => {
      const subcloud = this.at(event);
      if (subcloud) onPick(subcloud);
    });
    canvas.addEventListener("mousemove", (event) => {
      const subcloud = this.at(event);
      canvas.title = subcloud
        ? `${subcloud.name}: ${subcloud[this.scheme.field] || "none"}`
        : "";
      canvas.style.cursor = subcloud ? "pointer" : "default";
    });
  }

  columns() {
    return Math.max(1, Math.floor((this.scroller.clientWidth - 8) / PITCH));
  }

  // Rows of the grid: a title row per group, then its cells, `columns` a row.
  layout(groups) {
    const columns = this.columns();
    this.rows = [];
    let y = 0;
    for (const [name, members] of groups) {
      this.rows.push({ y, title: `${name} (${members.length})` });
      y += HEADER;
      for (let first = 0; first < members.length; first += columns) {
        this.rows.push({ y, cells: members.slice(first, first + columns) });
        y += PITCH;
      }
      y += PITCH / 2;
    }
    this.spacer.style.height = `${y}px`;
    this.draw();
  }

  // The rows in view, found by bisection.
  visible(top, bottom) {
    let low = 0;
    let high = this.rows.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.rows[middle].y + HEADER < top) low = middle + 1;
      else high = middle;
    }
    const found = [];
    for (let i = low; i < this.rows.length && this.rows[i].y < bottom; i += 1) {
      found.push(this.rows[i]);
    }
    return found;
  }

  draw() {
    const width = this.scroller.clientWidth;
    const height = this.scroller.clientHeight;
    const ratio = window.devicePixelRatio || 1;
    const pixels = [Math.round(width * ratio), Math.round(height * ratio)];
    if (this.canvas.width !== pixels[0] || this.canvas.height !== pixels[1]) {
      [this.canvas.width, this.canvas.height] = pixels;
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const context = this.canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const top = this.scroller.scrollTop;
    context.font = "13px system-ui, sans-serif";
    context.textBaseline = "middle";
    for (const row of this.visible(top, top + height)) {
      const y = row.y - top;
      if (row.title) {
        context.fillStyle = "#333";
        context.fillText(row.title, 4, y + HEADER / 2);
        continue;
      }
      row.cells.forEach((subcloud, column) => {
        context.fillStyle = this.scheme.colors[subcloud[this.scheme.field]] || NONE;
        context.fillRect(4 + column * PITCH, y, CELL, CELL);
      });
    }
  }

  at(event) {
    const box = this.canvas.getBoundingClientRect();
    const x = event.clientX - box.left - 4;
    const y = event.clientY - box.top + this.scroller.scrollTop;
    const [row] = this.visible(y - HEADER, y + 1).filter(
      (candidate) => candidate.cells && y >= candidate.y && y < candidate.y + CELL,
    );
    const column = Math.floor(x / PITCH);
    if (!row || x < 0 || x % PITCH >= CELL) return null;
    return row.cells[column] || null;
  }
}

function legend(scheme, counts, onPick, picked) {
  const values = [...Object.keys(scheme.colors), "none"];
  return el(
    "ul",
    { id: "legend" },
    values.map((value) =>
      el(
        "li",
        {
          "data-value": value,
          class: picked === value ? "picked" : undefined,
          onclick: () => onPick(picked === value ? null : value),
          title: "Show only these (again: all)",
        },
        el("span", { class: "swatch", style: `background:${scheme.colors[value] || NONE}` }),
        `${value} ${counts.get(value) || 0}`,
      ),
    ),
  );
}

export function showFleet(main) {
  const fleet = new Fleet();
  const colorBy = el(
    "select",
    { id: "color-by", "aria-label": "Colour by" },
    Object.keys(SCHEMES).map((name) => el("option", { value: name, text: name })),
  );
  const filter = el("input", { id: "filter", type: "search", placeholder: "Filter by name" });
  const count = el("span", { id: "fleet-count" });
  const legendBox = el("div", { id: "legend-box" });
  const spacer = el("div", { class: "spacer" });
  const canvas = el("canvas", { id: "grid" });
  const scroller = el("div", { id: "grid-scroll" }, canvas, spacer);
  main.append(
    el("section", { id: "fleet" }, el("div", { class: "toolbar" }, colorBy, filter, count), legendBox, scroller),
  );
  const grid = new Grid(scroller, canvas, spacer, (subcloud) => {
    location.hash = `#/site/${encodeURIComponent(subcloud.name)}`;
  });
  let only = null;

  function render() {
    const started = performance.now();
    grid.scheme = SCHEMES[colorBy.value];
    const field = grid.scheme.field;
    const text = filter.value.trim().toLowerCase();
    const counts = new Map();
    const groups = new Map();
    let shown = 0;
    for (const subcloud of fleet.byId.values()) {
      if (text && !subcloud.name.toLowerCase().includes(text)) continue;
      const value = subcloud[field] in grid.scheme.colors ? subcloud[field] : "none";
      counts.set(value, (counts.get(value) || 0) + 1);
      if (only && value !== only) continue;
      const name = fleet.groups.get(subcloud.group_id) || `group ${subcloud.group_id}`;
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(subcloud);
      shown += 1;
    }
    const sorted = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
    for (const [, members] of sorted) members.sort((a, b) => a.id - b.id);
    grid.layout(sorted);
    count.textContent = `${shown} of ${fleet.byId.size} subclouds`;
    clear(legendBox).append(
      legend(grid.scheme, counts, (value) => {
        only = value;
        render();
      }, only),
    );
    if (timings.firstRender === undefined && fleet.byId.size) {
      timings.firstRender = performance.now() - timings.started;
    }
    timings.render = performance.now() - started;
  }

  colorBy.addEventListener("change", render);
  filter.addEventListener("input", render);
  // The columns follow the grid's width (a window resized, a scrollbar come or gone).
  let width = 0;
  const resized = new ResizeObserver(() => {
    if (scroller.clientWidth !== width) {
      width = scroller.clientWidth;
      render();
    }
  });
  resized.observe(scroller);
  let reloaded = 0;
  const stop = every(UPDATE_SECONDS, async () => {
    const started = performance.now();
    if (!fleet.since || Date.now() - reloaded > RELOAD_SECONDS * 1000) {
      reloaded = Date.now();
      await fleet.reload(render);
      if (timings.loaded === undefined) timings.loaded = performance.now() - timings.started;
      return;
    }
    const changed = await fleet.update();
    if (changed) render();
    // An update: the changes asked for, and the grid drawn again if any came.
    timings.lastUpdate = { ms: performance.now() - started, changed };
    timings.updates = (timings.updates || 0) + 1;
  });
  return () => {
    stop();
    resized.disconnect();
  };
}
