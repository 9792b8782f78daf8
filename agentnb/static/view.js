// agentnb live view (anywidget ESM). Every fragment it shows was rendered and escaped in Python
// (agentnb/_render.py); this file only places fragments. Patches arrive as custom messages and
// are kept per model, so a view that renders late still shows everything sent before it.
const MAX_ROWS = 200;   // as _render.MAX_ROWS
// anywidget hands initialize() and render() different proxies of one model, so what they share
// is kept here, by the model's own uid.
const stores = new Map();

function store(model) {
  const uid = model.get("uid");
  if (!stores.has(uid)) stores.set(uid, { patches: [], views: new Set() });
  return stores.get(uid);
}

function initialize({ model }) {
  const shared = store(model);
  model.on("msg:custom", (msg) => {
    if (!msg || msg.kind !== "agentnb-patch") return;
    shared.patches.push(...msg.ops);
    if (shared.patches.length > 4 * MAX_ROWS) shared.patches = compact(shared.patches);
    for (const view of shared.views) apply(view, msg.ops);
  });
  // A new full snapshot replaces everything: patches before it are inside it.
  model.on("change:html", () => { shared.patches = []; });
  return () => stores.delete(model.get("uid"));
}

// The patches a late view needs: the last head, and each section's last MAX_ROWS rows.
function compact(patches) {
  let head = null;
  const rows = new Map();
  for (const op of patches) {
    if (op.op === "head") { head = op; continue; }
    const kept = rows.get(op.section) || { op: "append", section: op.section, html: [], skipped: 0 };
    kept.html.push(...op.html);
    kept.skipped += op.skipped || 0;
    if (kept.html.length > MAX_ROWS) {
      kept.skipped += kept.html.length - MAX_ROWS;
      kept.html = kept.html.slice(-MAX_ROWS);
    }
    rows.set(op.section, kept);
  }
  return [...(head ? [head] : []), ...rows.values()];
}

function section(view, name) {
  let rows = view.el.querySelector(`[data-section="${CSS.escape(name)}"] .anb-rows`);
  if (!rows) {
    // The section does not exist yet: ask for the shell the snapshot would have had.
    const shell = view.model.get("shells")[name];
    const host = name.startsWith("lane-")
      ? ensureLanes(view) : view.el.querySelector(".anb-body");
    if (!shell || !host) return null;
    host.insertAdjacentHTML("beforeend", shell);
    rows = view.el.querySelector(`[data-section="${CSS.escape(name)}"] .anb-rows`);
  }
  return rows;
}

function ensureLanes(view) {
  let lanes = view.el.querySelector(".anb-lanes");
  if (!lanes) {
    view.el.querySelector(".anb-body").insertAdjacentHTML("beforeend", view.model.get("shells").state);
    lanes = view.el.querySelector(".anb-lanes");
  }
  return lanes;
}

function apply(view, ops) {
  for (const op of ops) {
    if (op.op === "head") {
      const head = view.el.querySelector(".anb-head");
      if (head) head.outerHTML = op.html;
    } else if (op.op === "append") {
      const rows = section(view, op.section);
      if (!rows) continue;
      const before = rows.children.length;
      rows.insertAdjacentHTML("beforeend", op.html.join(""));
      for (const row of Array.from(rows.children).slice(before)) row.classList.add("anb-fresh");
      while (rows.children.length > MAX_ROWS) rows.firstElementChild.remove();
      rows.scrollTop = rows.scrollHeight;
      const count = rows.parentElement.querySelector(".anb-count");
      if (count) count.textContent = String(Number(count.textContent || 0) + op.html.length + (op.skipped || 0));
    }
  }
}

function render({ model, el }) {
  const view = { model, el };
  const draw = () => {
    el.innerHTML = model.get("html");
    el.dataset.status = model.get("status");
    apply(view, shared.patches);
  };
  const shared = store(model);
  draw();
  model.on("change:html", draw);
  model.on("change:status", () => { el.dataset.status = model.get("status"); });
  shared.views.add(view);
  return () => { shared.views.delete(view); };
}

export default { initialize, render };
