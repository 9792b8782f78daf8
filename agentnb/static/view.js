// @ts-check
// agentnb live view (anywidget ESM). Every fragment it shows was rendered and escaped in Python
// (agentnb/core/render/); this file only places fragments. Patches arrive as custom messages in
// the format defined once in agentnb/core/patch.py, and are kept per model, so a view that
// renders late still shows everything sent before it.

/** @typedef {{op: "head", html: string}} HeadOp */
/** @typedef {{op: "append", section: string, html: string[], skipped?: number}} AppendOp */
/** @typedef {HeadOp | AppendOp} Op */
/** @typedef {{kind: "agentnb-patch", ops: Op[]}} PatchMessage */
/** @typedef {{maxRows: number}} Limits */
/**
 * The widget model as this file uses it (anywidget's AnyModel).
 * @typedef {{get(name: string): any, on(event: string, callback: (msg?: any) => void): void}} Model
 */
/** @typedef {{model: Model, el: HTMLElement}} View */
/** @typedef {{patches: Op[], views: Set<View>}} Shared */

/** @param {Model} model @returns {number} rows a section keeps (patch.MAX_ROWS) */
function maxRows(model) {
  /** @type {Limits} */
  const limits = model.get("limits");
  return limits.maxRows;
}
// anywidget hands initialize() and render() different proxies of one model, so what they share
// is kept here, by the model's own uid.
/** @type {Map<string, Shared>} */
const stores = new Map();

/** @param {Model} model @returns {Shared} */
function store(model) {
  const uid = model.get("uid");
  if (!stores.has(uid)) stores.set(uid, { patches: [], views: new Set() });
  return /** @type {Shared} */ (stores.get(uid));
}

/** @param {{model: Model}} props */
function initialize({ model }) {
  const limit = maxRows(model);
  // A widget can serve one view after another: each has its own uid and its own store.
  let uid = model.get("uid");
  model.on("change:uid", () => { stores.delete(uid); uid = model.get("uid"); });
  model.on("msg:custom", (/** @type {PatchMessage} */ msg) => {
    if (!msg || msg.kind !== "agentnb-patch") return;
    const shared = store(model);
    shared.patches.push(...msg.ops);
    if (shared.patches.length > 4 * limit) shared.patches = compact(shared.patches, limit);
    for (const view of shared.views) apply(view, msg.ops);
  });
  // A new full snapshot replaces everything: patches before it are inside it.
  model.on("change:html", () => { store(model).patches = []; });
  return () => stores.delete(model.get("uid"));
}

/**
 * The patches a late view needs: the last head, and each section's last `limit` rows.
 * @param {Op[]} patches @param {number} limit @returns {Op[]}
 */
function compact(patches, limit) {
  /** @type {HeadOp | null} */
  let head = null;
  /** @type {Map<string, AppendOp & {skipped: number}>} */
  const rows = new Map();
  for (const op of patches) {
    if (op.op === "head") { head = op; continue; }
    const kept = rows.get(op.section) || { op: "append", section: op.section, html: [], skipped: 0 };
    kept.html.push(...op.html);
    kept.skipped += op.skipped || 0;
    if (kept.html.length > limit) {
      kept.skipped += kept.html.length - limit;
      kept.html = kept.html.slice(-limit);
    }
    rows.set(op.section, kept);
  }
  return [...(head ? [head] : []), ...rows.values()];
}

/** @param {View} view @param {string} name @returns {Element | null} the section's rows */
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

/** @param {View} view @returns {Element | null} */
function ensureLanes(view) {
  let lanes = view.el.querySelector(".anb-lanes");
  if (!lanes) {
    view.el.querySelector(".anb-body")?.insertAdjacentHTML("beforeend", view.model.get("shells").state);
    lanes = view.el.querySelector(".anb-lanes");
  }
  return lanes;
}

/** @param {View} view @param {Op[]} ops */
function apply(view, ops) {
  const limit = maxRows(view.model);
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
      while (rows.children.length > limit) rows.firstElementChild?.remove();
      rows.scrollTop = rows.scrollHeight;
      const count = rows.parentElement?.querySelector(".anb-count");
      if (count) count.textContent = String(Number(count.textContent || 0) + op.html.length + (op.skipped || 0));
    }
  }
}

/** @param {View} props */
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
