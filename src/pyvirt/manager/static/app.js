// pyvirt manager's page: hash routes, a server-sent-events stream for live state,
// fetch() for actions (with the CSRF token), xterm.js for the console.
"use strict";

const CSRF = document.querySelector('meta[name="csrf"]').content;
const main = document.getElementById("main");
const connSelect = document.getElementById("conn");
const connState = document.getElementById("conn-state");

const state = {
  connections: [],
  cid: localStorage.getItem("pyvirt-connection") || "",
  domains: new Map(), // name -> summary (current connection)
  stats: new Map(), // name -> [{t, cpu, memory_kib, disk_rd, disk_wr, net_rx, net_tx}]
  view: null, // the rendered page: {kind, name, ...hooks}
};
const HISTORY = 120;

// --- small helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c);
  }
  return el;
}

class ApiError extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: { "X-CSRF-Token": CSRF } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError("pyvirt-manager is not reachable");
  }
  const data = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new ApiError(data.error || `HTTP ${res.status}`, data.field);
  return data;
}

const capi = (method, path, body) =>
  api(method, `/api/c/${encodeURIComponent(state.cid)}${path}`, body);
const dpath = (name) => `/domains/${encodeURIComponent(name)}`;

function say(text) {
  document.getElementById("live").textContent = text;
}

function mib(kib) {
  return kib >= 1048576 ? `${(kib / 1048576).toFixed(1)} GiB` : `${Math.round(kib / 1024)} MiB`;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function errorBox() {
  return h("p", { class: "error", role: "alert", hidden: true });
}

function showError(box, err) {
  box.textContent = err ? err.message : "";
  box.hidden = !err;
}

// Runs a long operation with the button disabled and a progress label.
async function busy(button, label, work) {
  const old = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  say(label);
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = old;
  }
}

function confirmDialog(title, body, okLabel) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").replaceChildren(...body);
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }),
  );
}

// --- graphs

// One series, filled below, in the canvas' colour; `second` adds a line in its --second colour.
function drawSeries(canvas, values, max, second = null) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, hgt = canvas.clientHeight;
  canvas.width = w * ratio;
  canvas.height = hgt * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, w, hgt);
  const style = getComputedStyle(canvas);
  if (second && second.length >= 2) {
    ctx.strokeStyle = style.getPropertyValue("--second");
    ctx.lineWidth = 1.5;
    plot(ctx, second, max, w, hgt);
    ctx.stroke();
  }
  ctx.strokeStyle = style.color;
  ctx.fillStyle = style.getPropertyValue("--fill");
  ctx.lineWidth = 1.5;
  if (values.length < 2) return;
  const x0 = plot(ctx, values, max, w, hgt);
  ctx.stroke();
  ctx.lineTo(w, hgt);
  ctx.lineTo(x0, hgt);
  ctx.fill();
  canvas.dataset.points = values.length;
}

// The path of `values`, newest at the right edge; returns where it starts.
function plot(ctx, values, max, w, hgt) {
  const step = w / (HISTORY - 1);
  const x0 = w - (values.length - 1) * step;
  const y = (v) => hgt - 1 - (Math.min(v, max) / max) * (hgt - 2);
  ctx.beginPath();
  values.forEach((v, i) => (i ? ctx.lineTo(x0 + i * step, y(v)) : ctx.moveTo(x0, y(v))));
  return x0;
}

// Two rates (bytes/s) on one scale that fits both, at least 1 KiB/s.
function drawRates(canvas, samples, first, second) {
  const a = samples.map((s) => s[first] ?? 0), b = samples.map((s) => s[second] ?? 0);
  const max = Math.max(1024, ...a, ...b) * 1.1;
  drawSeries(canvas, a, max, b);
}

function sparkline(name) {
  const canvas = h("canvas", { class: "spark", role: "img", "aria-label": "CPU use" });
  requestAnimationFrame(() => drawSpark(canvas, name));
  return canvas;
}

function drawSpark(canvas, name) {
  const samples = state.stats.get(name) || [];
  drawSeries(canvas, samples.map((s) => s.cpu), 100);
  const last = samples[samples.length - 1];
  canvas.setAttribute("aria-label", last ? `CPU ${last.cpu}%` : "CPU: no samples yet");
}

// --- the live stream

function connectEvents() {
  const source = new EventSource("/api/events");
  source.onmessage = (e) => onEvent(JSON.parse(e.data));
  // After an interruption the stream resumes by itself; what changed meanwhile is reloaded.
  let opened = false;
  source.onopen = () => {
    // A half-filled form (view.keep) is not redrawn: what the user typed stays.
    if (opened) loadConnections().then(() => (state.view && state.view.keep ? null : route()));
    opened = true;
  };
}

function onEvent(msg) {
  if (msg.type === "connection") {
    const i = state.connections.findIndex((c) => c.id === msg.connection.id);
    if (i >= 0) state.connections[i] = msg.connection;
    else state.connections.push(msg.connection);
    renderConnections();
    if (state.view && state.view.onConnection) state.view.onConnection(msg.connection);
    return;
  }
  if (msg.conn !== state.cid) return;
  if (msg.type === "domain") {
    state.domains.set(msg.domain.name, msg.domain);
    say(`${msg.domain.name}: ${msg.domain.state}`);
  } else if (msg.type === "domain-removed") {
    state.domains.delete(msg.name);
    state.stats.delete(msg.name);
    say(`${msg.name} was removed`);
  } else if (msg.type === "stats") {
    for (const [name, sample] of Object.entries(msg.samples)) {
      const list = state.stats.get(name) || [];
      list.push(sample);
      if (list.length > HISTORY) list.shift();
      state.stats.set(name, list);
    }
  }
  if (state.view && state.view.onEvent) state.view.onEvent(msg);
}

// --- connections

async function loadConnections() {
  state.connections = await api("GET", "/api/connections");
  if (!state.connections.some((c) => c.id === state.cid) && state.connections.length) {
    state.cid = state.connections[0].id;
  }
  renderConnections();
}

function current() {
  return state.connections.find((c) => c.id === state.cid);
}

function renderConnections() {
  connSelect.replaceChildren(
    ...state.connections.map((c) => h("option", { value: c.id, selected: c.id === state.cid }, c.uri)),
  );
  const conn = current();
  connState.textContent = conn ? conn.state : "no connection";
  connState.className = `badge ${conn && conn.state === "connected" ? "ok" : "bad"}`;
  connState.title = conn && conn.error ? conn.error : "";
}

connSelect.addEventListener("change", () => {
  state.cid = connSelect.value;
  localStorage.setItem("pyvirt-connection", state.cid);
  renderConnections();
  route();
});

// --- router

async function route() {
  const previous = state.view;
  if (previous && previous.leave) previous.leave();
  state.view = null;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("header nav a")) {
    const here = a.getAttribute("href") === `#/${parts[0] === "vm" ? "" : parts[0]}`;
    a.toggleAttribute("aria-current", here);
  }
  const pages = { "": listPage, vm: vmPage, new: wizardPage, storage: storagePage, connections: connectionsPage };
  const page = pages[parts[0]] || listPage;
  const view = { kind: parts[0] };
  // A new page hides the old one at once: nothing stale stays clickable while it loads.
  if (!previous || previous.kind !== view.kind) main.replaceChildren(h("p", { class: "loading", role: "status" }, "Loading…"));
  state.view = view;
  try {
    await page(view, ...parts.slice(1));
  } catch (err) {
    if (state.view === view) main.replaceChildren(h("h1", {}, "Error"), h("p", { class: "error", role: "alert" }, err.message));
  }
}

function setPage(view, title, ...content) {
  if (state.view !== view) return false; // the user moved on meanwhile
  document.title = `${title} · pyvirt manager`;
  main.replaceChildren(h("h1", {}, title), ...content);
  return true;
}

async function loadDomains() {
  const list = await capi("GET", "/domains");
  state.domains = new Map(list.map((d) => [d.name, d]));
  for (const d of list) {
    if (!state.stats.has(d.name) || state.stats.get(d.name).length < d.cpu_history.length) {
      state.stats.set(d.name, d.cpu_history.map((cpu) => ({ cpu })));
    }
  }
}

// --- machines

const ACTIONS = [
  // [action, label, progress label, shown when]
  ["start", "Start", "Starting…", (d) => !d.active],
  ["shutdown", "Shut down", "Shutting down…", (d) => d.state === "running"],
  ["reboot", "Reboot", "Rebooting…", (d) => d.state === "running"],
  ["suspend", "Pause", "Pausing…", (d) => d.state === "running"],
  ["resume", "Resume", "Resuming…", (d) => d.state === "paused"],
  ["destroy", "Force off", "Forcing off…", (d) => d.active],
];

function actionButtons(d, errors) {
  const buttons = ACTIONS.filter(([, , , when]) => when(d)).map(([action, label, progress]) => {
    const b = h("button", { type: "button", "data-action": action }, label);
    b.addEventListener("click", async () => {
      if (action === "destroy" && !(await confirmDialog(`Force off ${d.name}?`, [h("p", {}, "The guest is stopped at once, as if unplugged.")], "Force off"))) return;
      showError(errors, null);
      try {
        await busy(b, progress, () => capi("POST", `${dpath(d.name)}/actions/${action}`));
      } catch (err) {
        showError(errors, err);
      }
    });
    return b;
  });
  const del = h("button", { type: "button", class: "danger", "data-action": "delete" }, "Delete");
  del.addEventListener("click", () => deleteDomain(d, del, errors));
  return h("div", { class: "actions" }, buttons, del);
}

async function deleteDomain(d, button, errors) {
  let disks = [];
  try {
    disks = (await capi("GET", dpath(d.name))).description.disks.filter((x) => x.device === "disk" && x.source);
  } catch (err) {
    return showError(errors, err);
  }
  const check = h("input", { type: "checkbox", id: "delete-volumes" });
  const body = [h("p", {}, d.active ? "It is running: it will be forced off first." : "Its definition is removed.")];
  if (disks.length) {
    body.push(
      h("p", {}, check, h("label", { for: "delete-volumes" }, " Also delete its disk volumes:")),
      h("ul", {}, disks.map((x) => h("li", {}, h("code", {}, x.source)))),
    );
  }
  if (!(await confirmDialog(`Delete ${d.name}?`, body, "Delete"))) return;
  showError(errors, null);
  try {
    const res = await busy(button, "Deleting…", () => capi("DELETE", `${dpath(d.name)}?volumes=${check.checked ? 1 : 0}`));
    const kept = res.kept_volumes.map((k) => `${k.path} (${k.reason})`);
    say(`${d.name} deleted` + (kept.length ? `; kept ${kept.join(", ")}` : ""));
    if (state.view.kind === "vm") location.hash = "#/";
  } catch (err) {
    showError(errors, err);
  }
}

function stateBadge(d) {
  return h("span", { class: `badge state-${d.state.replace(/ /g, "-")}` }, d.state);
}

async function listPage(view) {
  if (!current() || current().state !== "connected") return setPage(view, "Machines", notConnected());
  await loadDomains();
  const tbody = h("tbody");
  const rows = new Map();
  const render = () => {
    const names = [...state.domains.keys()].sort();
    rows.clear();
    tbody.replaceChildren(
      ...names.map((name) => {
        const d = state.domains.get(name);
        const errors = errorBox();
        const spark = sparkline(name);
        rows.set(name, spark);
        return h(
          "tr",
          { "data-name": name },
          h("th", { scope: "row", "data-label": "Name" }, h("a", { href: `#/vm/${encodeURIComponent(name)}` }, name)),
          h("td", { "data-label": "State" }, stateBadge(d)),
          h("td", { "data-label": "vCPUs" }, String(d.vcpus)),
          h("td", { "data-label": "Memory" }, mib(d.memory_kib)),
          h("td", { "data-label": "CPU" }, spark),
          h("td", { "data-label": "Actions" }, actionButtons(d, errors), errors),
        );
      }),
    );
    empty.hidden = names.length > 0;
  };
  const empty = h("p", {}, "No virtual machines on this connection yet. ", h("a", { href: "#/new" }, "Create one"), ".");
  const table = h(
    "table",
    { class: "vms" },
    h("thead", {}, h("tr", {}, ["Name", "State", "vCPUs", "Memory", "CPU", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    tbody,
  );
  view.onEvent = (msg) => {
    if (msg.type === "stats") {
      for (const name of Object.keys(msg.samples)) if (rows.has(name)) drawSpark(rows.get(name), name);
    } else render();
  };
  view.onConnection = () => route();
  if (setPage(view, "Machines", h("p", {}, h("a", { href: "#/new", class: "button" }, "New VM")), table, empty)) render();
}

function notConnected() {
  const conn = current();
  return h(
    "p",
    { class: "error", role: "alert" },
    conn ? `Not connected to ${conn.uri}: ${conn.error || "disconnected"}. ` : "No connection. ",
    h("a", { href: "#/connections" }, "Manage connections"),
  );
}

// --- one machine

const TABS = [
  ["overview", "Overview"],
  ["console", "Console"],
  ["graphs", "Graphs"],
  ["xml", "XML"],
  ["snapshots", "Snapshots"],
];

async function vmPage(view, name, tab = "overview") {
  if (!current() || current().state !== "connected") return setPage(view, name, notConnected());
  const details = await capi("GET", dpath(name));
  state.domains.set(name, details.domain);
  if (details.stats.length) state.stats.set(name, details.stats);
  const head = h("div", { class: "vmhead" });
  const renderHead = () => {
    const d = state.domains.get(name);
    if (!d) {
      head.replaceChildren(h("p", {}, `${name} no longer exists. `, h("a", { href: "#/" }, "Back to the list")));
      return;
    }
    const errors = errorBox();
    head.replaceChildren(stateBadge(d), actionButtons(d, errors), errors);
  };
  renderHead();
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Machine" },
    TABS.map(([id, label]) =>
      h("a", { href: `#/vm/${encodeURIComponent(name)}/${id}`, "aria-current": id === tab ? "page" : false }, label),
    ),
  );
  const body = h("section", { class: "tab" });
  const tabViews = { overview: overviewTab, console: consoleTab, graphs: graphsTab, xml: xmlTab, snapshots: snapshotsTab };
  const inner = (tabViews[tab] || overviewTab)(name, details, body);
  view.onEvent = (msg) => {
    if ((msg.type === "domain" && msg.domain.name === name) || (msg.type === "domain-removed" && msg.name === name)) renderHead();
    if (inner.onEvent) inner.onEvent(msg);
  };
  view.leave = inner.leave;
  if (setPage(view, name, head, tabs, body) && inner.shown) inner.shown();
}

function table(headers, rows) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { "data-label": headers[i] }, c))))),
  );
}

function overviewTab(name, details, body) {
  const d = details.domain, os = details.description.os;
  const dl = h("dl", { class: "facts" });
  const facts = [
    ["UUID", d.uuid],
    ["vCPUs", String(d.vcpus)],
    ["Memory", `${mib(d.memory_kib)} (max ${mib(d.max_memory_kib)})`],
    ["Persistent", d.persistent ? "yes" : "no (transient)"],
    ["Domain type", details.description.type],
    ["Kernel", os.kernel],
    ["Initrd", os.initrd],
    ["Command line", os.cmdline],
  ];
  for (const [k, v] of facts) if (v) dl.append(h("dt", {}, k), h("dd", {}, v));
  const disks = details.description.disks;
  const nics = details.description.interfaces;
  body.append(
    dl,
    h("h2", {}, "Disks"),
    disks.length ? table(["Target", "Bus", "Device", "Format", "Source"], disks.map((x) => [x.target, x.bus, x.device, x.format, x.source])) : h("p", {}, "No disks."),
    h("h2", {}, "Network interfaces"),
    nics.length ? table(["Type", "Model", "MAC", "Source"], nics.map((x) => [x.type, x.model, x.mac, x.source])) : h("p", {}, "No network interfaces."),
  );
  return {};
}

function consoleTab(name, details, body) {
  const status = h("p", { class: "status", role: "status" }, "Connecting…");
  const size = h("span", { class: "size" });
  const box = h("div", { class: "console-box", "aria-label": `Serial console of ${name}` });
  body.append(h("div", { class: "termbar" }, status, size), box);
  if (!window.Terminal) {
    status.textContent = "The terminal widget is not installed on the server (run ./dev.sh setup).";
    return {};
  }
  const term = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 2000, fontSize: 14 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  let ws = null, left = false, retry = null, delay = 1000;
  const showSize = () => (size.textContent = `${term.cols}×${term.rows}`);
  term.onResize(showSize);
  term.onData((data) => ws && ws.readyState === WebSocket.OPEN && ws.send(data));
  const connect = () => {
    clearTimeout(retry);
    const proto = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${proto}://${location.host}/api/c/${encodeURIComponent(state.cid)}${dpath(name)}/console?csrf=${encodeURIComponent(CSRF)}`);
    ws.binaryType = "arraybuffer";
    let reason = "";
    ws.onopen = () => {
      box.dataset.connects = Number(box.dataset.connects || 0) + 1;
      status.textContent = "Connected. Click the terminal and type.";
      delay = 1000;
    };
    ws.onmessage = (e) => {
      if (typeof e.data === "string") reason = JSON.parse(e.data).message;
      else term.write(new Uint8Array(e.data));
    };
    ws.onclose = () => {
      ws = null;
      if (left) return;
      const d = state.domains.get(name);
      if (d && d.active) {
        status.textContent = `Disconnected${reason ? ` (${reason})` : ""}; reconnecting…`;
        retry = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 5000);
      } else {
        status.textContent = `${reason || "Disconnected"}. The console reconnects when ${name} runs.`;
      }
    };
  };
  const observer = new ResizeObserver(() => fit.fit());
  return {
    shown() {
      term.open(box);
      fit.fit();
      showSize();
      observer.observe(box);
      connect();
      term.focus();
    },
    onEvent(msg) {
      if (msg.type === "domain" && msg.domain.name === name && msg.domain.active && !ws) connect();
    },
    leave() {
      left = true;
      clearTimeout(retry);
      observer.disconnect();
      if (ws) ws.close();
      term.dispose();
    },
  };
}

const RATE_GRAPHS = [
  // [id, caption, first series, second series, legend, what "unknown" means]
  ["disk", "Disk I/O", "disk_rd", "disk_wr", ["read", "written"], "no disks, or the connection does not count disk I/O"],
  ["net", "Network", "net_rx", "net_tx", ["received", "sent"], "no interfaces, or the connection does not count their traffic"],
];

function graphsTab(name, details, body) {
  const cpu = h("canvas", { class: "graph", id: "graph-cpu", role: "img", "aria-label": "CPU use" });
  const mem = h("canvas", { class: "graph mem", id: "graph-mem", role: "img", "aria-label": "Memory" });
  const cpuNow = h("span", { class: "now", id: "cpu-now" });
  const memNow = h("span", { class: "now", id: "mem-now" });
  body.append(
    h("figure", {}, h("figcaption", {}, "CPU use (% of its vCPUs) ", cpuNow), cpu),
    h("figure", {}, h("figcaption", {}, "Memory ", memNow), mem),
  );
  const rates = RATE_GRAPHS.map(([id, caption, first, second, legend, unknown]) => {
    const canvas = h("canvas", { class: `graph ${id}`, id: `graph-${id}`, role: "img", "aria-label": caption });
    const now = h("span", { class: "now", id: `${id}-now` });
    const key = h("span", { class: "legend" }, h("span", { class: "first" }, legend[0]), " / ", h("span", { class: "second" }, legend[1]));
    body.append(h("figure", {}, h("figcaption", {}, `${caption} `, key, " ", now), canvas));
    return { canvas, now, caption, first, second, legend, unknown };
  });
  const draw = () => {
    const samples = state.stats.get(name) || [];
    const last = samples[samples.length - 1];
    drawSeries(cpu, samples.map((s) => s.cpu), 100);
    const memory = samples.filter((s) => s.memory_kib).map((s) => s.memory_kib);
    const max = state.domains.get(name) ? state.domains.get(name).max_memory_kib : Math.max(...memory, 1);
    drawSeries(mem, memory, max);
    cpuNow.textContent = last ? `${last.cpu}%` : "(no samples: not running)";
    memNow.textContent = last && last.memory_kib ? mib(last.memory_kib) : "";
    for (const g of rates) {
      drawRates(g.canvas, samples, g.first, g.second);
      const known = last && last[g.first] != null;
      g.now.textContent = !last ? "" : known ? `${bytes(last[g.first])}/s ${g.legend[0]}, ${bytes(last[g.second])}/s ${g.legend[1]}` : `(not available: ${g.unknown})`;
      g.canvas.setAttribute("aria-label", `${g.caption}: ${g.now.textContent || "no samples"}`);
    }
  };
  return {
    shown: draw,
    onEvent(msg) {
      if (msg.type === "stats" && msg.samples[name]) draw();
    },
  };
}

function xmlTab(name, details, body) {
  const area = h("textarea", { id: "xml", rows: 24, spellcheck: "false", "aria-label": `XML of ${name}` });
  area.value = details.xml;
  const errors = errorBox();
  const saved = h("p", { role: "status", class: "status" });
  const save = h("button", { type: "submit" }, "Save");
  const form = h("form", { class: "xml" }, area, errors, h("div", { class: "buttons" }, save, saved));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(errors, null);
    saved.textContent = "";
    try {
      await busy(save, "Saving…", () => capi("PUT", `${dpath(name)}/xml`, { xml: area.value }));
      saved.textContent = state.domains.get(name)?.active ? "Saved: the changes apply from the next start." : "Saved.";
      area.value = (await capi("GET", dpath(name))).xml;
    } catch (err) {
      showError(errors, err);
    }
  });
  body.append(form);
  return {};
}

function snapshotsTab(name, details, body) {
  const spath = `${dpath(name)}/snapshots`;
  const errors = errorBox();
  const list = h("div", { class: "snapshots" });
  const when = (secs) => new Date(secs * 1000).toLocaleString();
  async function refresh() {
    let snaps;
    try {
      snaps = await capi("GET", spath);
    } catch (err) {
      list.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    if (!snaps.length) return list.replaceChildren(h("p", { class: "note" }, "No snapshots yet."));
    const rows = snaps.map((s) =>
      h(
        "tr",
        { "data-snapshot": s.name },
        h("td", {}, s.name, s.description ? h("small", {}, ` ${s.description}`) : null),
        h("td", {}, when(s.created)),
        h("td", {}, s.state),
        h("td", {}, s.current ? "current" : ""),
        h(
          "td",
          { class: "buttons" },
          snapButton("Revert", `Revert ${name} to ${s.name}?`, "The disks and the definition go back to the snapshot; later changes are lost.", () =>
            capi("POST", `${spath}/${encodeURIComponent(s.name)}/revert`)),
          snapButton("Delete", `Delete snapshot ${s.name}?`, "Its children, if any, move up to its parent.", () =>
            capi("DELETE", `${spath}/${encodeURIComponent(s.name)}`)),
        ),
      ),
    );
    const head = h("tr", {}, ...["Name", "Created", "State", "", ""].map((t) => h("th", {}, t)));
    list.replaceChildren(h("table", { "aria-label": `Snapshots of ${name}` }, h("thead", {}, head), h("tbody", {}, ...rows)));
  }
  function snapButton(label, title, text, work) {
    const b = h("button", { type: "button" }, label);
    b.addEventListener("click", async () => {
      if (!(await confirmDialog(title, [h("p", {}, text)], label))) return;
      showError(errors, null);
      try {
        await busy(b, `${label}…`, work);
        say(`${label}: done`);
      } catch (err) {
        showError(errors, err);
      }
      await refresh();
    });
    return b;
  }
  const snapName = h("input", { id: "snapshot-name", name: "name", autocomplete: "off" });
  const snapDesc = h("input", { id: "snapshot-description", name: "description", autocomplete: "off" });
  const create = h("button", { type: "submit" }, "Create snapshot");
  const form = h(
    "form",
    { class: "snapshot-create" },
    h("div", { class: "field" }, h("label", { for: "snapshot-name" }, "Name"), snapName, h("small", {}, "empty: the current time")),
    h("div", { class: "field" }, h("label", { for: "snapshot-description" }, "Description"), snapDesc),
    h("div", { class: "buttons" }, create),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(errors, null);
    try {
      await busy(create, "Creating…", () => capi("POST", spath, { name: snapName.value, description: snapDesc.value }));
      snapName.value = snapDesc.value = "";
    } catch (err) {
      showError(errors, err);
    }
    await refresh();
  });
  body.append(form, errors, list);
  refresh();
  return {};
}

// --- the create wizard

async function wizardPage(view) {
  if (!current() || current().state !== "connected") return setPage(view, "New virtual machine", notConnected());
  view.keep = true;
  const pools = (await capi("GET", "/pools")).filter((p) => p.active);
  const volumes = pools.flatMap((p) => p.volumes.map((v) => ({ ...v, pool: p.name })));
  const field = (id, label, input, hint) =>
    h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", {}, hint) : null, h("span", { class: "field-error", id: `${id}-error`, role: "alert" }));
  const input = (id, attrs = {}) => h("input", { id, name: id, ...attrs });
  const radio = (name, value, label, checked) =>
    h("label", { class: "radio" }, h("input", { type: "radio", name, value, checked }), ` ${label}`);
  const form = h(
    "form",
    { class: "wizard", novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, "Machine"),
      field("name", "Name", input("name", { required: true, pattern: "[A-Za-z0-9_][A-Za-z0-9_.+\\-]{0,63}", autocomplete: "off" }), "letters, digits, _ . + -"),
      field("memory_mib", "Memory (MiB)", input("memory_mib", { type: "number", min: 16, value: 256, required: true })),
      field("vcpus", "vCPUs", input("vcpus", { type: "number", min: 1, max: 255, value: 1, required: true })),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Boot"),
      h("div", { class: "choices" }, radio("boot", "kernel", "Linux kernel, initrd and command line", true), radio("boot", "disk", "From the disk", false)),
      h(
        "div",
        { class: "when-kernel" },
        field("kernel", "Kernel (path on the host)", input("kernel", { placeholder: "/path/to/vmlinux" })),
        field("initrd", "Initrd (optional)", input("initrd", { placeholder: "/path/to/initramfs.cpio" })),
        field("cmdline", "Command line", input("cmdline", { value: "console=ttyS0" })),
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Disk"),
      h("div", { class: "choices" }, radio("disk_kind", "none", "None", true), radio("disk_kind", "existing", "An existing volume", false), radio("disk_kind", "new", "A new volume", false)),
      h(
        "div",
        { class: "when-existing" },
        field("volume", "Volume", h("select", { id: "volume" }, volumes.length ? volumes.map((v) => h("option", { value: v.path }, `${v.pool}/${v.name} (${v.format}, ${bytes(v.capacity)})`)) : h("option", { value: "" }, "no volumes in active pools"))),
      ),
      h(
        "div",
        { class: "when-new" },
        field("pool", "Pool", h("select", { id: "pool" }, pools.map((p) => h("option", { value: p.name }, `${p.name} (${bytes(p.available)} free)`)))),
        field("capacity_mib", "Size (MiB)", input("capacity_mib", { type: "number", min: 1, value: 1024 })),
        field("format", "Format", h("select", { id: "format" }, h("option", { value: "qcow2" }, "qcow2"), h("option", { value: "raw" }, "raw"))),
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Network"),
      h("div", { class: "choices" }, radio("network", "user", "User-mode networking (NAT)", true), radio("network", "none", "None", false)),
    ),
    h("label", { class: "radio" }, h("input", { type: "checkbox", id: "start-now", checked: true }), " Start it when created"),
  );
  const errors = errorBox();
  const steps = h("ol", { class: "steps", "aria-label": "Progress" });
  const submit = h("button", { type: "submit" }, "Create");
  form.append(errors, steps, h("div", { class: "buttons" }, submit));
  const value = (id) => form.querySelector(`#${id}`).value.trim();
  const picked = (name) => form.querySelector(`input[name="${name}"]:checked`).value;
  const toggle = () => {
    form.querySelector(".when-kernel").hidden = picked("boot") !== "kernel";
    form.querySelector(".when-existing").hidden = picked("disk_kind") !== "existing";
    form.querySelector(".when-new").hidden = picked("disk_kind") !== "new";
  };
  form.addEventListener("change", toggle);
  toggle();
  const fieldError = (id, message) => {
    const el = form.querySelector(`#${id}-error`);
    const target = form.querySelector(`#${id}`);
    if (el) el.textContent = message || "";
    if (target) target.setAttribute("aria-invalid", message ? "true" : "false");
    return message ? target : null;
  };
  const validate = () => {
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    const problems = [];
    const check = (id, ok, message) => ok || problems.push(fieldError(id, message));
    const name = form.querySelector("#name");
    check("name", name.checkValidity(), "Use letters, digits and _ . + - (up to 64).");
    check("memory_mib", Number(value("memory_mib")) >= 16, "At least 16 MiB.");
    check("vcpus", Number(value("vcpus")) >= 1 && Number(value("vcpus")) <= 255, "Between 1 and 255.");
    if (picked("boot") === "kernel") check("kernel", value("kernel").startsWith("/"), "An absolute path to a kernel is required.");
    if (picked("disk_kind") === "existing") check("volume", value("volume") !== "", "Pick a volume.");
    if (picked("disk_kind") === "new") check("capacity_mib", Number(value("capacity_mib")) >= 1, "At least 1 MiB.");
    if (picked("boot") === "disk" && picked("disk_kind") === "none") {
      showError(errors, new Error("Booting from the disk needs a disk: pick an existing or a new volume."));
      problems.push(form.querySelector('input[name="disk_kind"]'));
    }
    if (problems.length) problems[0].focus();
    return problems.length === 0;
  };
  const step = (text) => {
    const li = h("li", { "aria-current": "step" }, text);
    for (const old of steps.children) old.removeAttribute("aria-current");
    steps.append(li);
    say(text);
    return li;
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(errors, null);
    steps.replaceChildren();
    if (!validate()) return;
    const name = value("name");
    await busy(submit, "Creating…", async () => {
      let current = null;
      try {
        let disk = picked("disk_kind") === "existing" ? value("volume") : "";
        if (picked("disk_kind") === "new") {
          current = step(`Creating volume ${name}.${value("format")} in ${value("pool")}…`);
          const vol = await capi("POST", `/pools/${encodeURIComponent(value("pool"))}/volumes`, {
            name: `${name}.${value("format")}`,
            capacity_mib: value("capacity_mib"),
            format: value("format"),
          });
          disk = vol.path;
        }
        current = step(`Defining ${name}…`);
        await capi("POST", "/domains", {
          name,
          memory_mib: value("memory_mib"),
          vcpus: value("vcpus"),
          boot: picked("boot"),
          kernel: value("kernel"),
          initrd: value("initrd"),
          cmdline: value("cmdline"),
          disk,
          network: picked("network"),
        });
        if (form.querySelector("#start-now").checked) {
          current = step(`Starting ${name}…`);
          await capi("POST", `${dpath(name)}/actions/start`);
        }
        step("Done.");
        location.hash = `#/vm/${encodeURIComponent(name)}`;
      } catch (err) {
        if (current) current.classList.add("failed");
        if (err.field && fieldError(err.field, err.message)) fieldError(err.field, err.message).focus();
        showError(errors, err);
      }
    });
  });
  setPage(view, "New virtual machine", form);
}

// --- storage

async function storagePage(view) {
  if (!current() || current().state !== "connected") return setPage(view, "Storage", notConnected());
  const pools = await capi("GET", "/pools");
  const sections = pools.map((p) => poolSection(p));
  const errors = errorBox();
  const nameIn = h("input", { id: "pool-name", required: true });
  const pathIn = h("input", { id: "pool-path", required: true, placeholder: "/var/lib/images" });
  const add = h("button", { type: "submit" }, "Add pool");
  const form = h(
    "form",
    { class: "inline" },
    h("h2", {}, "New directory pool"),
    h("div", { class: "field" }, h("label", { for: "pool-name" }, "Name"), nameIn),
    h("div", { class: "field" }, h("label", { for: "pool-path" }, "Directory (must exist)"), pathIn),
    add,
    errors,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(errors, null);
    try {
      await busy(add, "Adding…", () => capi("POST", "/pools", { name: nameIn.value, path: pathIn.value }));
      route();
    } catch (err) {
      showError(errors, err);
    }
  });
  setPage(view, "Storage", ...(sections.length ? sections : [h("p", {}, "No storage pools.")]), form);
}

function poolSection(p) {
  const errors = errorBox();
  const base = `/pools/${encodeURIComponent(p.name)}`;
  const act = (label, progress, method, path, cls) => {
    const b = h("button", { type: "button", class: cls || "" }, label);
    b.addEventListener("click", async () => {
      if (method === "DELETE" && !(await confirmDialog(`${label}?`, [h("p", {}, "This cannot be undone.")], label))) return;
      showError(errors, null);
      try {
        await busy(b, progress, () => capi(method, path));
        route();
      } catch (err) {
        showError(errors, err);
      }
    });
    return b;
  };
  const rows = p.volumes.map((v) => [
    v.name,
    v.format,
    bytes(v.capacity),
    bytes(v.allocation),
    h("code", {}, v.path),
    act(`Delete ${v.name}`, "Deleting…", "DELETE", `${base}/volumes/${encodeURIComponent(v.name)}`, "danger"),
  ]);
  const volName = h("input", { id: `vol-name-${p.name}`, required: true, pattern: "[A-Za-z0-9_][A-Za-z0-9_.+\\-]{0,63}" });
  const volSize = h("input", { id: `vol-size-${p.name}`, type: "number", min: 1, value: 1024, required: true });
  const volFormat = h("select", { id: `vol-format-${p.name}` }, h("option", {}, "qcow2"), h("option", {}, "raw"));
  const create = h("button", { type: "submit" }, "Create volume");
  const form = h(
    "form",
    { class: "inline" },
    h("div", { class: "field" }, h("label", { for: volName.id }, "Volume name"), volName),
    h("div", { class: "field" }, h("label", { for: volSize.id }, "Size (MiB)"), volSize),
    h("div", { class: "field" }, h("label", { for: volFormat.id }, "Format"), volFormat),
    create,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(errors, null);
    if (!volName.checkValidity()) return showError(errors, new Error("Volume name: letters, digits and _ . + -"));
    try {
      await busy(create, "Creating…", () => capi("POST", `${base}/volumes`, { name: volName.value, capacity_mib: volSize.value, format: volFormat.value }));
      route();
    } catch (err) {
      showError(errors, err);
    }
  });
  return h(
    "section",
    { class: "pool", "data-pool": p.name },
    h("h2", {}, `${p.name} `, h("span", { class: `badge ${p.active ? "ok" : "bad"}` }, p.state)),
    h("p", {}, h("code", {}, p.path), p.active ? ` · ${bytes(p.available)} free of ${bytes(p.capacity)}` : ""),
    h(
      "div",
      { class: "actions" },
      p.active ? act("Stop", "Stopping…", "POST", `${base}/actions/stop`) : act("Start", "Starting…", "POST", `${base}/actions/start`),
      act(`Remove pool ${p.name}`, "Removing…", "DELETE", base, "danger"),
    ),
    errors,
    p.active ? (rows.length ? table(["Volume", "Format", "Capacity", "Allocated", "Path", ""], rows) : h("p", {}, "No volumes.")) : null,
    p.active ? form : null,
  );
}

// --- connections page

async function connectionsPage(view) {
  const errors = errorBox();
  const uri = h("input", { id: "uri", required: true, placeholder: "pyvirt:///session or test+unix:///default?socket=…" });
  const add = h("button", { type: "submit" }, "Add connection");
  const form = h("form", { class: "inline" }, h("div", { class: "field wide" }, h("label", { for: "uri" }, "URI"), uri, h("span", { class: "field-error", id: "uri-error" })), add, errors);
  const list = h("div");
  const render = () => {
    list.replaceChildren(
      table(
        ["URI", "State", ""],
        state.connections.map((c) => {
          const e = errorBox();
          const use = h("button", { type: "button" }, "Use");
          use.addEventListener("click", () => {
            connSelect.value = c.id;
            connSelect.dispatchEvent(new Event("change"));
            location.hash = "#/";
          });
          const reconnect = h("button", { type: "button" }, "Reconnect");
          reconnect.addEventListener("click", () => busy(reconnect, "Connecting…", () => api("POST", `/api/c/${c.id}/connect`).catch((err) => showError(e, err))));
          const remove = h("button", { type: "button", class: "danger" }, "Remove");
          remove.addEventListener("click", async () => {
            try {
              await api("DELETE", `/api/c/${c.id}`);
              await loadConnections();
              render();
            } catch (err) {
              showError(e, err);
            }
          });
          return [
            h("code", {}, c.uri),
            h("span", {}, h("span", { class: `badge ${c.state === "connected" ? "ok" : "bad"}` }, c.state), c.error ? ` ${c.error}` : ""),
            h("div", { class: "actions" }, c.state === "connected" ? use : reconnect, remove, e),
          ];
        }),
      ),
    );
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(errors, null);
    try {
      const conn = await busy(add, "Connecting…", () => api("POST", "/api/connections", { uri: uri.value }));
      if (!state.connections.some((c) => c.id === conn.id)) state.connections.push(conn);
      uri.value = "";
      render();
    } catch (err) {
      showError(errors, err);
    }
  });
  view.onConnection = render;
  render();
  setPage(view, "Connections", list, h("h2", {}, "Add a connection"), form);
}

// --- start

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  try {
    await loadConnections();
  } catch (err) {
    main.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  connectEvents();
  route();
});
