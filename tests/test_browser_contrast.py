"""Contrast, measured: in a real JupyterLab, in its light and its dark theme, every piece of
text agentnb shows (the tour, and a card of every other kind: a failed run with its traceback,
a run waiting for a credential, a tool still running, a section with "show all", a comparison)
is at least 4.5:1 against what is behind it, from the page's computed styles. The screenshots
of the tour in both themes land in tests/artifacts/."""
from pathlib import Path

import nbformat
import pytest
from jupyterlab_browser import jupyter_server, run_notebook_in_browser

TOUR = Path(__file__).resolve().parent.parent / "notebooks" / "00_tour.ipynb"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
pytestmark = pytest.mark.browser

EXTRA = [
    '''from fastapi.openapi.models import APIKey, APIKeyIn
from google.adk.auth import AuthConfig, AuthCredential, AuthCredentialTypes
import agentnb
from agentnb.core.render.sections import Sections
from agentnb.core.trace import Trace
from agentnb.core.records import Event
from IPython.display import HTML

def broken(n: int) -> dict:
    """A tool that fails."""
    raise ValueError(f"no luck with {n}")

CONFIG = AuthConfig(auth_scheme=APIKey(**{"in": APIKeyIn.header, "name": "X-Api-Key"}),
                    raw_auth_credential=AuthCredential(auth_type=AuthCredentialTypes.API_KEY))

def weather(city: str, tool_context: ToolContext) -> dict:
    """Needs a key."""
    if tool_context.get_auth_response(CONFIG) is None:
        tool_context.request_credential(CONFIG)
        return {"status": "waiting for a key"}
    return {"forecast": "sunny"}

failing = NotebookRunner(LlmAgent(name="unlucky", tools=[broken], model=ScriptedLlm([call("broken", n=3)])))
waiting = NotebookRunner(LlmAgent(name="forecaster", tools=[weather],
                                  model=ScriptedLlm([call("weather", city="Paris"), reply("Sunny.")])))''',
    '''try:
    await failing.ask("try your luck")
except ValueError:
    pass''',
    'await waiting.ask("Weather in Paris?")',
    # a card as it is while its tool runs (the tail), drawn as a snapshot
    '''records = runner.trace.snapshot()
started = next(n for n, r in enumerate(records) if getattr(r, "hook", "") == "before_tool_callback")
mid_run = Sections(records[started].invocation_id)
mid_run.add(records[: started + 1])
HTML(mid_run.html())''',
    # a section with more rows than it shows, and one that dropped some
    '''many = Sections(title="many rows")
many.add([Event("s", "i", f"e{n}", float(n), "a", "model", f"row {n}") for n in range(230)])
HTML(many.html())''',
    'agentnb.compare_view(runner, waiting)',
]

# Every text node inside agentnb's views: its colour over the backgrounds behind it (composited
# from the page down), and the ratio of their relative luminances (WCAG 2).
CONTRAST_JS = r"""() => {
  const parse = (c) => {
    let m = c.match(/^rgba?\(([^)]+)\)/);
    if (m) { const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
             return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
    m = c.match(/^color\(srgb ([^)]+)\)/);
    if (m) { const p = m[1].split(/[\s\/]+/).filter(Boolean).map(Number);
             return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1]; }
    return null;
  };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const behind = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = [255, 255, 255, 1];
    for (const e of chain) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) bg = over(c, bg);
    }
    return bg;
  };
  const lum = (c) => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
                            return (x + 0.05) / (y + 0.05); };
  const seen = [];
  for (const root of document.querySelectorAll('.anb-root')) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || el.closest('style')) continue;
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (!box.width || !box.height || style.visibility === 'hidden') continue;
      const bg = behind(el), fg = over(parse(style.color), bg);
      seen.push({ratio: Math.round(ratio(fg, bg) * 100) / 100, text: n.textContent.trim().slice(0, 50),
                 cls: el.className || el.tagName, color: style.color, bg: bg.map(Math.round)});
    }
  }
  return seen;
}"""


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """The tour, and after it a card of every other kind."""
    node = nbformat.read(TOUR, as_version=4)
    node.cells += [nbformat.v4.new_code_cell(source) for source in EXTRA]
    path = tmp_path_factory.mktemp("contrast") / "00_tour.ipynb"
    nbformat.write(node, path)
    return path


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.timeout(240)
def test_every_text_is_at_least_4_5_to_1_in_both_themes(notebook, browser, theme):
    settings = {"@jupyterlab/apputils-extension:themes": {"theme": THEMES[theme]}}

    def inspect(page):
        page.evaluate("() => document.querySelectorAll('.anb-root details').forEach(d => d.open = true)")
        # new rows flash in the accent colour (a 1.2 s animation): measure when none runs
        page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')",
                               timeout=60_000)
        return {"light": page.evaluate("() => document.body.dataset.jpThemeLight"),
                "texts": page.evaluate(CONTRAST_JS)}

    with jupyter_server(notebooks=[notebook], lab_settings=settings) as server:
        result = run_notebook_in_browser(server, notebook.name, ui="lab", browser=browser,
                                         inspect=inspect, timeout=180,
                                         screenshot_name=f"tour-{theme}")
    assert result.errors == [], result.errors
    assert result.inspected["light"] == ("true" if theme == "light" else "false")
    texts = result.inspected["texts"]
    kinds = " ".join(t["cls"] for t in texts)
    for kind in ("anb-s-ok", "anb-s-error", "anb-s-waiting", "anb-s-running", "anb-note",
                 "anb-prov", "anb-old", "anb-more", "anb-error", "anb-pre", "anb-sub"):
        assert kind in kinds, kind                  # every kind of text was there to measure
    assert len(texts) > 500
    low = [t for t in texts if t["ratio"] < 4.5]
    assert low == [], low[:10]
    assert result.screenshot.is_file()
