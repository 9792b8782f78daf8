// agentnb live view (anywidget ESM). Every fragment it shows was rendered and escaped in Python
// (agentnb/_render.py); this file only places fragments. Patches arrive as custom messages and
// are kept on the model, so a view that renders late still shows everything sent before it.
const MAX_ROWS = 200;

function initialize({ model }) {
  model.__anb = { patches: [], views: new Set() };
  model.on("msg:custom", (msg) => {
    if (!msg || msg.kind !== "agentnb-patch") return;
    model.__anb.patches.push(...msg.ops);
    for (const view of model.__anb.views) apply(view, msg.ops);
  });
  // A new full snapshot replaces everything: patches before it are inside it.
  model.on("change:html", () => { model.__anb.patches = []; });
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
      if (count) count.textContent = String(Number(count.textContent || 0) + op.html.length);
    }
  }
}

function render({ model, el }) {
  const view = { model, el };
  const draw = () => {
    el.innerHTML = model.get("html");
    el.dataset.status = model.get("status");
    apply(view, model.__anb ? model.__anb.patches : []);
  };
  draw();
  model.on("change:html", draw);
  model.on("change:status", () => { el.dataset.status = model.get("status"); });
  model.__anb && model.__anb.views.add(view);
  return () => { model.__anb && model.__anb.views.delete(view); };
}

export default { initialize, render };
