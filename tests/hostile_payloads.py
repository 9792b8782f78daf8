"""A corpus of hostile text for agentnb's views, and checks of the HTML agentnb writes.

`corpus(place)` gives every payload with a tag unique to the payload and to `place` (where the
test puts it: a state key, an artifact name, ...). A payload that ever executes in a page pushes
`"<place>-<nn>"` to the page's `window.__agentnb_xss` (the harness's `xss_js`), so a hit names
both the payload and where it was put. Two payloads call `alert()` instead (seen as dialogs).

`check_agentnb_html(html)` parses what a view rendered with the stdlib's `html.parser` and
fails on any tag or attribute agentnb does not write itself.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

from jupyterlab_browser import xss_js

# Payloads are short enough that no view clips them (state keys are cut at 120 characters).
MAX_PAYLOAD = 120


def js(tag: str) -> str:
    """The harness's `xss_js(tag)` with its string in backticks, so it fits in a double- or
    single-quoted attribute and in unquoted ones (it has no spaces either)."""
    return xss_js(tag).replace('"', "`")


# (kind, template): `{js}` is the recording statement, `{tag}` the bare tag.
TEMPLATES: list[tuple[str, str]] = [
    # script elements
    ("script", "<script>{js}</script>"),
    ("script-case", "<ScRiPt>{js}</sCrIpT>"),
    ("script-src", "<script src=\"data:text/javascript,{js}\"></script>"),
    ("script-breakout", "</span></div></pre><script>{js}</script>"),
    ("script-rawtext", "</textarea></title></q><script>{js}</script>"),
    # event handlers
    ("img-onerror", "<img src=x onerror=\"{js}\">"),
    ("img-unquoted", "<img src=x onerror={js}>"),
    ("svg-onload", "<svg onload=\"{js}\">"),
    ("svg-animate", "<svg><animate onbegin=\"{js}\" attributeName=x dur=1s></svg>"),
    ("body-onload", "<body onload=\"{js}\">"),
    ("details-ontoggle", "<details open ontoggle=\"{js}\">x</details>"),
    ("video-onerror", "<video src=x onerror=\"{js}\"></video>"),
    ("video-source", "<video><source onerror=\"{js}\"></video>"),
    ("audio-onerror", "<audio src=x onerror=\"{js}\">"),
    ("input-onfocus", "<input autofocus onfocus=\"{js}\">"),
    ("marquee-onstart", "<marquee onstart=\"{js}\">x</marquee>"),
    ("iframe-srcdoc", "<iframe srcdoc=\"<script>parent.{js}</script>\"></iframe>"),
    ("link-onload", "<link rel=stylesheet href=data:text/css,a onload=\"{js}\">"),
    ("style-onload", "<style onload=\"{js}\"></style>"),
    # attribute break-outs
    ("attr-double", "\"><img src=x onerror=\"{js}\">"),
    ("attr-single", "'><img src=x onerror='{js}'>"),
    ("attr-inject", "\" autofocus onfocus=\"{js}\" x=\""),
    ("attr-backtick", "`><img src=x onerror={js}>"),
    # javascript: URLs
    ("js-href", "<a href=\"javascript:{js}\">click</a>"),
    ("js-entity", "<a href=\"jAvAsCrIpT&colon;{js}\">x</a>"),
    ("js-iframe", "<iframe src=\"javascript:{js}\"></iframe>"),
    ("js-object", "<object data=\"javascript:{js}\"></object>"),
    ("js-embed", "<embed src=\"javascript:{js}\">"),
    ("js-form", "<form action=\"javascript:{js}\"><button>go</button></form>"),
    ("js-bare", "javascript:{js}"),
    # SVG and MathML
    ("svg-script", "<svg><script>{js}</script></svg>"),
    ("svg-xlink", "<svg><a xlink:href=\"javascript:{js}\"><text>x</text></a></svg>"),
    ("svg-foreign", "<svg><foreignObject><img src=x onerror={js}></foreignObject>"),
    ("math-href", "<math><mi href=\"javascript:{js}\">x</mi></math>"),
    ("math-mglyph", "<math><mtext><mglyph><style><img src=x onerror={js}>"),
    # CSS
    ("css-close", "</style><script>{js}</script>"),
    ("css-expression", "<div style=\"width:expression({js})\">x</div>"),
    ("css-import", "<style>@import 'javascript:{js}';</style>"),
    ("css-url", "x{{}}</style><img src=x onerror=\"{js}\"><style>"),
    # broken HTML
    ("comment-open", "<!--<img src=x onerror=\"{js}\">"),
    ("comment-close", "--><img src=x onerror=\"{js}\"><!--"),
    ("cdata", "<![CDATA[ ]]><img src=x onerror=\"{js}\">"),
    ("unclosed-quote", "<img src=\"x onerror=\"{js}\""),
    ("unclosed-tag", "<img src=x onerror=\"{js}\" "),
    ("noscript-mxss", "<noscript><p title=\"</noscript><img src=x onerror={js}>\">"),
    # bidi and zero-width tricks
    ("rtl-override", "\u202e<img src=x onerror=\"{js}\">\u202c"),
    ("zero-width", "<scr\u200bipt>{js}</scr\u200bipt>"),
    ("zero-width-img", "\u200b<img\u200c src=x onerror=\"{js}\">\u200d"),
    ("isolate-bom", "\u2066\ufeff<svg onload=\"{js}\">\u2069"),
    ("ltr-mark", "\u200e\u200fjava\u200dscript:{js}"),
    # Markdown and Mermaid
    ("md-fence", "```html\n<script>{js}</script>\n```"),
    ("md-link", "[x](javascript:{js})"),
    ("md-image", "![y](x\" onerror=\"{js})"),
    ("mermaid-init", "%%{{init:{{\"securityLevel\":\"loose\"}}}}%%\nclick A \"javascript:{js}\""),
    ("mermaid-click", "graph TD\nA[x]\nclick A call {js}()"),
    ("latex-href", "$\\href{{javascript:{js}}}{{x}}$"),
    # template-ish
    ("template-curly", "{{{{constructor.constructor('{js}')()}}}}"),
    ("template-dollar", "${{{js}}}"),
    ("template-erb", "<%= {js} %>"),
    ("template-hash", "#{{{js}}}"),
    # plain alert(): would show up as a dialog
    ("alert-script", "<script>alert('agentnb-xss-{tag}')</script>"),
    ("alert-img", "<img src=x onerror=alert('agentnb-xss-{tag}')>"),
]

# Kinds that fire by themselves when inserted as live HTML (no click, no focus needed): the
# positive control of the browser tests. `css-url` and `comment-close` fire too, but leave a
# <style> or a comment open that swallows the rest of a page made of concatenated outputs
# (nbconvert), so the control leaves them out.
SELF_FIRING = {"script-breakout", "script-rawtext", "img-onerror", "img-unquoted", "svg-animate",
               "details-ontoggle", "video-onerror", "audio-onerror", "iframe-srcdoc", "attr-double",
               "css-close", "rtl-override", "alert-img"}


@dataclass(frozen=True)
class Payload:
    kind: str
    tag: str
    text: str


def corpus(place: str) -> list[Payload]:
    """Every payload, tagged `<place>-<nn>`; `place` is up to 4 letters, digits or dashes."""
    if not re.fullmatch(r"[A-Za-z0-9-]{1,4}", place):
        raise ValueError(f"place must be 1-4 letters, digits or dashes, not {place!r}")
    out = []
    for n, (kind, template) in enumerate(TEMPLATES):
        tag = f"{place}-{n:02d}"
        text = template.format(js=js(tag), tag=tag)
        assert len(text) <= MAX_PAYLOAD, (kind, len(text))
        out.append(Payload(kind, tag, text))
    return out


def texts(place: str) -> list[str]:
    return [p.text for p in corpus(place)]


# --- what agentnb shows ----------------------------------------------------------------------

# The characters agentnb promises to show as visible `\uXXXX` codes (SECURITY.md).
INVISIBLE = (0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
             0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF)


def shown(text: str) -> str:
    """`text` as a view shows it: reordering and zero-width characters as visible codes."""
    return text.translate({c: f"\\u{c:04x}" for c in INVISIBLE})


def format_chars(text: str) -> list[str]:
    """The characters of `text` that Unicode classes as invisible formatting (category Cf)."""
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cf"]


# --- the HTML agentnb writes ------------------------------------------------------------------

# Cards and dashboards; the sequence diagram's SVG; compare_view's table.
AGENTNB_TAGS = {"div", "span", "b", "i", "time", "details", "summary", "q", "pre", "img", "code", "small", "style",
                "svg", "text", "line", "path", "table", "tr", "th", "td"}
AGENTNB_ATTRS = {"class", "data-section", "data-view", "data-status", "title", "open", "alt", "src",
                 "xmlns", "width", "height", "role", "aria-label", "x", "y", "x1", "y1", "x2",
                 "y2", "text-anchor", "stroke-dasharray", "d"}
VOID = {"img"}
DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp|bmp);base64,[A-Za-z0-9+/]*={0,2}")
SECTIONS = re.compile(r"[a-z]+(-[a-z]+)?")
NUMBERS = re.compile(r"[-0-9 .,Mmlz]*")   # svg geometry: numbers and path commands only
GEOMETRY = {"width", "height", "x", "y", "x1", "y1", "x2", "y2", "stroke-dasharray", "d"}


class _AgentnbHtml(HTMLParser):
    def __init__(self, stylesheet: str | None):
        super().__init__(convert_charrefs=True)
        self.stylesheet = stylesheet
        self.problems: list[str] = []
        self.stack: list[str] = []
        self.text: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in AGENTNB_TAGS:
            self.problems.append(f"tag <{tag}> {attrs!r:.120}")
        for name, value in attrs:
            if name not in AGENTNB_ATTRS:
                self.problems.append(f"attribute {name}={value!r:.80} on <{tag}>")
            if name == "src" and (tag != "img" or not DATA_IMAGE.fullmatch(value or "")):
                self.problems.append(f"src {value!r:.80} on <{tag}>")
            if name == "data-section" and not SECTIONS.fullmatch(value or ""):
                self.problems.append(f"data-section {value!r:.80}")
            if name in GEOMETRY and not NUMBERS.fullmatch(value or ""):
                self.problems.append(f"{name}={value!r:.80} on <{tag}>")
            if name == "xmlns" and value != "http://www.w3.org/2000/svg":
                self.problems.append(f"xmlns={value!r:.80}")
            if value and "javascript:" in value.lower().replace("\x00", ""):
                self.problems.append(f"javascript: in {name} on <{tag}>")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            self.styles.append(data)
        else:
            self.text.append(data)

    def handle_comment(self, data):
        self.problems.append(f"comment <!--{data:.60}-->")

    def handle_decl(self, decl):
        self.problems.append(f"declaration <!{decl:.60}>")

    def unknown_decl(self, data):
        self.problems.append(f"declaration <![{data:.60}>")

    def handle_pi(self, data):
        self.problems.append(f"processing instruction <?{data:.60}>")


def check_agentnb_html(html: str, stylesheet: str | None = None) -> str:
    """Fail unless `html` holds only agentnb's own tags and attributes, balanced, with no
    script and no `javascript:`; returns its text (what a person reads)."""
    assert "<script" not in html.lower(), "raw <script in agentnb HTML"
    parser = _AgentnbHtml(stylesheet)
    parser.feed(html)
    parser.close()
    problems = list(parser.problems)
    if parser.stack:
        problems.append(f"unclosed {parser.stack}")
    if stylesheet is not None and any(s != stylesheet for s in parser.styles):
        problems.append("a <style> that is not agentnb's stylesheet")
    assert not problems, "\n".join(problems[:20])
    return "".join(parser.text)


# pandas' own HTML for a DataFrame (`_repr_html_`, `to_html`).
PANDAS_TAGS = {"div", "style", "table", "thead", "tbody", "tr", "th", "td", "p"}
PANDAS_ATTRS = {"class", "border", "style", "scoped", "valign"}


class _PandasHtml(_AgentnbHtml):
    def handle_starttag(self, tag, attrs):
        if tag not in PANDAS_TAGS:
            self.problems.append(f"tag <{tag}> {attrs!r:.120}")
        for name, value in attrs:
            if name not in PANDAS_ATTRS:
                self.problems.append(f"attribute {name}={value!r:.80} on <{tag}>")
        self.stack.append(tag)


def check_pandas_html(html: str) -> str:
    assert "<script" not in html.lower(), "raw <script in a DataFrame's HTML"
    parser = _PandasHtml(None)
    parser.feed(html)
    parser.close()
    problems = parser.problems + ([f"unclosed {parser.stack}"] if parser.stack else [])
    assert not problems, "\n".join(problems[:20])
    return "".join(parser.text)


# Evaluated in a page: every element under `root_selector` that agentnb did not write, every
# on* attribute and javascript:/non-data src/href anywhere under `outputs_selector`.
DOM_AUDIT_JS = r"""
([rootSelector, outputsSelector, tags, attrs]) => {
  const problems = [];
  const allowedTags = new Set(tags), allowedAttrs = new Set(attrs);
  const roots = Array.from(document.querySelectorAll(rootSelector));
  for (const root of roots) {
    for (const el of root.querySelectorAll('*')) {
      const tag = el.tagName.toLowerCase();
      if (!allowedTags.has(tag)) problems.push('tag ' + tag + ': ' + el.outerHTML.slice(0, 120));
      for (const a of el.attributes) {
        if (!allowedAttrs.has(a.name)) problems.push('attr ' + a.name + ' on ' + tag);
        if (a.name === 'src' && !/^data:image\/(png|jpeg|gif|webp|bmp);base64,/.test(a.value))
          problems.push('src ' + a.value.slice(0, 80));
      }
    }
  }
  for (const el of document.querySelectorAll(outputsSelector + ' *')) {
    for (const a of el.attributes) {
      const v = (a.value || '').replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
      if (a.name.toLowerCase().startsWith('on')) problems.push('handler ' + a.name + ' on ' + el.tagName);
      if (v.startsWith('javascript:') || v.startsWith('vbscript:'))
        problems.push('url ' + a.name + '=' + a.value.slice(0, 80) + ' on ' + el.tagName);
    }
  }
  for (const el of document.querySelectorAll(outputsSelector + ' script, ' + outputsSelector + ' iframe, ' +
                                             outputsSelector + ' object, ' + outputsSelector + ' embed')) {
    if (el.type && el.type.startsWith('application/vnd.jupyter')) continue;
    // nbconvert's own bootstrap next to each widget view
    if (/^\s*var element = document\.getElementById\('[0-9a-f-]+'\);\s*$/.test(el.textContent)) continue;
    problems.push('element ' + el.tagName + ': ' + el.outerHTML.slice(0, 120));
  }
  return {roots: roots.length, problems};
}
"""


# --- an ADK run over the corpus ---------------------------------------------------------------
# Used by tests/test_hostile.py and by the notebook it runs in JupyterLab.

def chunks(items: list[str], limit: int, sep: str = " ") -> list[str]:
    """`items` packed greedily into texts of at most `limit` characters (views clip longer)."""
    out, current = [], ""
    for item in items:
        if current and len(current) + len(sep) + len(item) > limit:
            out.append(current)
            current = ""
        current = f"{current}{sep}{item}" if current else item
    return out + ([current] if current else [])


USER_CHUNK = 280     # an invocation's user text is shown up to 300 characters
MODEL_CHUNK = 580    # a model text up to 600
ERROR_CHUNK = 280    # an invocation's error up to 300 ("ValueError: " comes first)
ERROR_TYPE = "ValueError: "


def svg_document(payload: Payload) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" onload="{js(payload.tag)}">'
            f"<script>{js(payload.tag)}</script><text>{payload.text}</text></svg>")


def hostile_runner(display=False):
    """A NotebookRunner whose tools and scripted model put every payload everywhere ADK lets
    them go, and the asks that drive it: `(runner, asks)`, each ask a dict of `ask()` keyword
    arguments plus `"fails"` (the ask raises ValueError)."""
    from google.adk.agents import LlmAgent
    from google.adk.tools import FunctionTool, ToolContext
    from google.genai import types

    from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply

    async def write_state(tool_context: ToolContext) -> dict:
        for key, value in zip(texts("skey"), texts("sval")):
            tool_context.state[key] = value
        return {"written": len(TEMPLATES)}

    async def save_artifacts(tool_context: ToolContext) -> dict:
        for name, content in zip(texts("afil"), texts("atxt")):
            await tool_context.save_artifact(name, types.Part(text=content))
        for n, payload in enumerate(corpus("asvg")):
            await tool_context.save_artifact(f"drawing-{n:02d}.svg", types.Part(
                inline_data=types.Blob(mime_type="image/svg+xml", data=svg_document(payload).encode())))
        for n, mime in enumerate(texts("mime")):
            await tool_context.save_artifact(f"typed-{n:02d}.bin", types.Part(
                inline_data=types.Blob(mime_type=mime, data=b"\x00\x01")))
        return {"saved": 4 * len(TEMPLATES)}

    async def explode(message: str) -> dict:
        raise ValueError(message)

    def named(name: str, key: str, value: str):
        async def tool(note: str = "") -> dict:
            return {key: value}
        tool.__name__ = name   # ADK takes a FunctionTool's name from its function's __name__
        tool.__doc__ = "A tool with a hostile name."
        return FunctionTool(tool)

    hostile_tools = [named(n, k, v) for n, k, v in zip(texts("tool"), texts("rkey"), texts("rval"))]
    steps = [call("write_state"), call("save_artifacts"),
             [call(name, **{key: value}) for name, key, value in
              zip(texts("tool"), texts("akey"), texts("aval"))],
             [call(name) for name in texts("unkn")]]
    user_texts = chunks(texts("utxt"), USER_CHUNK)
    model_texts = chunks(texts("mtxt"), MODEL_CHUNK)
    errors = chunks(texts("err"), ERROR_CHUNK - len(ERROR_TYPE))
    asks = []
    for n in range(max(len(user_texts), len(model_texts))):
        asks.append({"message": user_texts[n % len(user_texts)], "fails": False})
        if n:
            steps.append(reply(model_texts[n % len(model_texts)]))
        else:
            steps.append(reply(model_texts[0]))
    asks[0]["state_delta"] = dict(zip(texts("dkey"), texts("dval")))
    for message in errors:
        asks.append({"message": "explode", "fails": True})
        steps.append(call("explode", message=message))
    agent = LlmAgent(name="hostile", model=ScriptedLlm(steps),
                     tools=[write_state, save_artifacts, explode, *hostile_tools])
    runner = NotebookRunner(agent, app_name="hostile", user_id=corpus("user")[5].text,
                            session_id=corpus("sess")[19].text,
                            state=dict(zip(texts("ikey"), texts("ival"))), display=display)
    return runner, asks


async def run_asks(runner, asks):
    """Every ask; the failing ones must fail with the ValueError the tool raised."""
    for ask in asks:
        kwargs = {k: v for k, v in ask.items() if k != "fails"}
        try:
            await runner.ask(**kwargs)
        except ValueError:
            assert ask["fails"], ask
        else:
            assert not ask["fails"], ask


# Where each place's payloads show as text, and how: "raw" text, or "json" (a JSON string).
ADK_PLACES = {"skey": "raw", "sval": "json", "ikey": "raw", "ival": "json", "dkey": "raw",
              "dval": "json", "afil": "raw", "atxt": "raw", "mime": "raw", "tool": "raw",
              "akey": "json", "aval": "json", "rkey": "json", "rval": "json", "unkn": "raw",
              "utxt": "raw", "mtxt": "raw", "err": "raw"}
