// @ts-check
// agentnb live view (anywidget ESM). Every fragment it shows was rendered and escaped in Python
// (agentnb/core/render/); this file only places fragments. Patches arrive as custom messages in
// the format defined once in agentnb/core/patch.py, and are kept per model, so a view that
// renders late still shows everything sent before it. What it draws is what the snapshot
// (Sections.html) draws for the same records: the same sections in the same places, open or
// folded alike, the newest rows shown and the rest behind "show all", so that nothing moves
// when the output becomes the snapshot at the end of a run.

/** @typedef {{op: "head", html: string}} HeadOp */
/** @typedef {{op: "append", section: string, html: string[], skipped?: number}} AppendOp */
/** @typedef {{op: "tail", section: string, html: string}} TailOp */
/** @typedef {HeadOp | AppendOp | TailOp} Op */
/** @typedef {{kind: "agentnb-patch", ops: Op[]}} PatchMessage */
/** @typedef {{maxRows: number, contextRows: number, shownRows: number}} Limits */
/**
 * The widget model as this file uses it (anywidget's AnyModel).
 * @typedef {{get(name: string): any, on(event: string, callback: (msg?: any) => void): void,
 *   send(content: any): void}} Model
 */
/**
 * A view on the page: its rows just added (`fresh`, in batches by time), and the patches that
 * arrived since it last drew (`pending`, drawn by `paint` at most every PAINT_EVERY_MS).
 * @typedef {{model: Model, el: HTMLElement, fresh: {at: number, rows: Element[]}[],
 *   pending: Op[], drawnAt: number, timer: number}} View
 */
/** @typedef {{patches: Op[], views: Set<View>}} Shared */

/** @param {Model} model @returns {Limits} the limits a snapshot keeps (patch.limits()) */
function limits(model) {
  return model.get("limits");
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
  const limit = limits(model).maxRows;
  // A widget can serve one view after another: each has its own uid and its own store.
  let uid = model.get("uid");
  model.on("change:uid", () => { stores.delete(uid); uid = model.get("uid"); });
  model.on("msg:custom", (/** @type {PatchMessage} */ msg) => {
    if (!msg || msg.kind !== "agentnb-patch") return;
    const shared = store(model);
    shared.patches.push(...msg.ops);
    if (shared.patches.length > 4 * limit) shared.patches = compact(shared.patches, limit);
    for (const view of shared.views) receive(view, msg.ops);
  });
  // A new full snapshot replaces everything: patches before it are inside it.
  model.on("change:html", () => { store(model).patches = []; });
  return () => stores.delete(model.get("uid"));
}

/**
 * The patches a late view needs: the last head, each section's last `limit` rows, its last tail.
 * @param {Op[]} patches @param {number} limit @returns {Op[]}
 */
function compact(patches, limit) {
  /** @type {HeadOp | null} */
  let head = null;
  /** @type {Map<string, AppendOp & {skipped: number}>} */
  const rows = new Map();
  /** @type {Map<string, TailOp>} */
  const tails = new Map();
  for (const op of patches) {
    if (op.op === "head") { head = op; continue; }
    if (op.op === "tail") { tails.set(op.section, op); continue; }
    const kept = rows.get(op.section) || { op: "append", section: op.section, html: [], skipped: 0 };
    kept.html.push(...op.html);
    kept.skipped += op.skipped || 0;
    if (kept.html.length > limit) {
      kept.skipped += kept.html.length - limit;
      kept.html = kept.html.slice(-limit);
    }
    rows.set(op.section, kept);
  }
  return [...(head ? [head] : []), ...rows.values(), ...tails.values()];
}

/** @param {ParentNode} host @param {string} name @returns {Element | null} */
function find(host, name) {
  return host.querySelector(`[data-section="${CSS.escape(name)}"]`);
}

/**
 * A section (or state lane) of the view, added from its shell where the snapshot draws it
 * when it is not on the page yet: the `shells` trait lists the sections in that order.
 * @param {View} view @param {string} name @returns {Element | null}
 */
function section(view, name) {
  const found = find(view.el, name);
  if (found) return found;
  const shells = view.model.get("shells");
  const host = name.startsWith("lane-")
    ? section(view, "state")?.querySelector(".anb-lanes") : view.el.querySelector(".anb-body");
  if (!shells[name] || !host) return null;
  const order = Object.keys(shells);
  const rank = order.indexOf(name);
  const next = Array.from(host.children)
    .find((child) => order.indexOf(child.getAttribute("data-section") || "") > rank);
  if (next) next.insertAdjacentHTML("beforebegin", shells[name]);
  else host.insertAdjacentHTML("beforeend", shells[name]);
  return find(view.el, name);
}

/** @param {Element} sec @param {string} cls @returns {Element | null} the child of that class */
function part(sec, cls) {
  return sec.querySelector(`:scope > .${cls}`);
}

/**
 * Rows past the newest `shownRows` go behind "show all", rows past what a snapshot keeps go,
 * and the section says how many it does not show: as `Sections.section` draws it.
 * @param {View} view @param {Element} sec @param {string} name @param {number} gone
 */
function fold(view, sec, name, gone) {
  const { maxRows, contextRows, shownRows } = limits(view.model);
  const rows = part(sec, "anb-rows");
  if (!rows) return;
  let all = part(sec, "anb-all");
  if (rows.children.length > shownRows && !all) {
    all = document.createElement("details");
    all.className = "anb-all";
    all.append(document.createElement("summary"), document.createElement("div"));
    /** @type {Element} */ (all.lastElementChild).className = "anb-older";
    rows.before(all);
  }
  const older = all && part(all, "anb-older");
  if (all && older) {
    while (rows.children.length > shownRows && rows.firstElementChild) older.append(rows.firstElementChild);
    const keep = name === "context" ? contextRows : maxRows;
    while (older.children.length + rows.children.length > keep && older.firstElementChild) {
      older.firstElementChild.remove();
      gone += 1;
    }
    /** @type {Element} */ (all.firstElementChild).textContent =
      `show all ${(older.children.length + rows.children.length).toLocaleString("en-US")}`;
  }
  if (!gone) return;
  let more = part(sec, "anb-more");
  if (!more) {
    more = document.createElement("div");
    more.className = "anb-more";
    (all || rows).before(more);
  }
  const before = Number((more.textContent || "").replace(/\D/g, "")) || 0;
  more.textContent = `… ${(before + gone).toLocaleString("en-US")} earlier rows not shown`;
}

/** @param {View} view @param {Op[]} ops */
function apply(view, ops) {
  for (const op of ops) {
    if (op.op === "head") {
      const head = view.el.querySelector(".anb-head");
      if (head) head.outerHTML = op.html;
    } else if (op.op === "append") {
      const sec = section(view, op.section);
      const rows = sec && part(sec, "anb-rows");
      if (!sec || !rows) continue;
      const before = rows.children.length;
      rows.insertAdjacentHTML("beforeend", op.html.join(""));
      const added = Array.from(rows.children).slice(before);
      for (const row of added) row.classList.add("anb-fresh");
      view.fresh.push({ at: Date.now(), rows: added });
      fold(view, sec, op.section, op.skipped || 0);
      const count = sec.querySelector(":scope > summary .anb-count");
      if (count) count.textContent = String(Number(count.textContent || 0) + op.html.length + (op.skipped || 0));
    } else if (op.op === "tail") {
      const sec = section(view, op.section);
      if (!sec) continue;
      let tail = part(sec, "anb-tail");
      if (!op.html) { tail?.remove(); continue; }
      if (!tail) {
        tail = document.createElement("div");
        tail.className = "anb-tail";
        sec.append(tail);
      }
      tail.innerHTML = op.html;
      tick(view, Date.now());
    }
  }
}

const FRESH_MS = 1200;       // how long a row just added stays marked
// A view draws the patches that arrived at most this often. 3, not 5: in a burst the
// browser's CPU went 0.215-0.230 -> 0.177-0.192 of a core (bench page_live_cpu); a patch that
// comes after a quiet spell is still drawn at once.
const DRAWS_PER_S = 3;
const PAINT_EVERY_MS = 1000 / DRAWS_PER_S;

/**
 * Patches for a view: drawn at once when it has not drawn for PAINT_EVERY_MS, else together
 * with those that follow, at that time. Each drawing is a frame the page lays out and paints
 * again, so a burst of 10 patches a second costs 3 frames, not 10. A new head (a run's status:
 * its end) is drawn at once, with what waited: the output may become the snapshot next, and
 * the live view must have shown what the snapshot shows by then.
 * @param {View} view @param {Op[]} ops
 */
function receive(view, ops) {
  view.pending.push(...ops);
  if (ops.some((op) => op.op === "head")) {
    window.clearTimeout(view.timer);
    paint(view);
    return;
  }
  if (view.timer) return;
  const wait = Math.max(0, view.drawnAt + PAINT_EVERY_MS - performance.now());
  view.timer = window.setTimeout(() => paint(view), wait);
}

/** @param {View} view */
function paint(view) {
  const ops = view.pending;
  view.pending = [];
  view.timer = 0;
  view.drawnAt = performance.now();
  apply(view, ops);
  unmark(view, Date.now());   // in the same frame as the new rows
}

/** Rows added more than FRESH_MS ago lose their mark. @param {View} view @param {number} now */
function unmark(view, now) {
  while (view.fresh.length && now - view.fresh[0].at >= FRESH_MS) {
    for (const row of /** @type {{rows: Element[]}} */ (view.fresh.shift()).rows) row.classList.remove("anb-fresh");
  }
}

/** Running clocks: each `<time data-started>` (seconds since the epoch) shows how long ago.
 * Marks are cleared here only once patches have stopped coming (while they come, `paint`
 * clears them in its own frame).
 * @param {View} view @param {number} now */
function tick(view, now) {
  for (const clock of Array.from(view.el.querySelectorAll("time[data-started]"))) {
    const started = Number(clock.getAttribute("data-started"));
    clock.textContent = `${Math.max(0, now / 1000 - started).toFixed(1)} s`;
  }
  if (!view.timer && performance.now() - view.drawnAt >= PAINT_EVERY_MS) unmark(view, now);
}

/**
 * The controls the kernel offers on this view (the `actions` trait), outside the fragments so
 * patches never replace them: a running card's Stop button. The button says only what it does;
 * the card's own rows say what happened.
 * @param {View} view
 */
function controls(view) {
  const { model, el } = view;
  const offered = /** @type {string[]} */ (model.get("actions") || []);
  let stop = /** @type {HTMLButtonElement | null} */ (el.querySelector(":scope > .anb-controls > .anb-stop"));
  const wanted = offered.includes("stop") && model.get("status") === "running";
  if (!wanted) {
    stop?.parentElement?.remove();
    return;
  }
  if (stop) return;
  const bar = document.createElement("div");
  bar.className = "anb-controls";
  stop = document.createElement("button");
  stop.className = "anb-stop";
  stop.type = "button";
  stop.textContent = "Stop";
  stop.title = "Cancel this invocation: it ends interrupted, what it recorded stays";
  const button = stop;
  button.addEventListener("click", () => {
    button.disabled = true;
    button.textContent = "Stopping…";
    model.send({ kind: "agentnb-action", action: "stop", uid: model.get("uid") });
  });
  bar.append(button);
  el.prepend(bar);
}

/** @param {View} props */
function render({ model, el }) {
  /** @type {View} */
  const view = { model, el, fresh: [], pending: [], drawnAt: -Infinity, timer: 0 };
  // JupyterLab and Notebook 7 draw the snapshot (text/html) inside jp-RenderedHTMLCommon, which
  // sets its padding, font and the look of code: the live view sits in the same, so the output
  // keeps its size and look when it becomes the snapshot. (Elsewhere the class does nothing.)
  el.classList.add("jp-RenderedHTMLCommon", "anb-live");
  const draw = () => {
    el.innerHTML = model.get("html");
    el.dataset.status = model.get("status");
    // what was waiting to be drawn is in the new snapshot, or in the store's patches after it
    window.clearTimeout(view.timer);
    view.timer = 0;
    view.pending = [];
    view.fresh = [];
    apply(view, shared.patches);
    controls(view);
    tick(view, Date.now());
  };
  const shared = store(model);
  draw();
  model.on("change:html", draw);
  model.on("change:status", () => { el.dataset.status = model.get("status"); controls(view); });
  model.on("change:actions", () => controls(view));
  shared.views.add(view);
  const clocks = setInterval(() => tick(view, Date.now()), 250);
  return () => { clearInterval(clocks); window.clearTimeout(view.timer); shared.views.delete(view); };
}

export default { initialize, render };
