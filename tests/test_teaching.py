"""What teaching with the notebooks relies on (docs/teaching.md): every `## ` section of every
notebook (also ones added later) is bilingual, `## English · 한국어`, with a Korean summary line
`> **요약:** …`; the glossary maps the documents' Korean terms to the API; and every cell the
teacher's page names exists in the notebook it names."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def sections(source: str):
    """(heading line, the lines under it up to the next `## `) for each `## ` of a markdown cell."""
    out, current = [], None
    for line in source.splitlines():
        if line.startswith("## "):
            current = (line, [])
            out.append(current)
        elif current:
            current[1].append(line)
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_section_has_its_korean_counterpart(path):
    notebook = nbformat.read(path, as_version=4)
    found = 0
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for heading, body in sections(cell.source):
            found += 1
            english, _, korean = heading[3:].partition(" · ")
            assert english.strip() and HANGUL.search(korean), \
                f"{path.name}:{cell.id}: '{heading}' should read '## English title · 한국어 제목'"
            summaries = [line for line in body if line.startswith("> **요약:**")]
            assert len(summaries) == 1 and HANGUL.search(summaries[0]), \
                f"{path.name}:{cell.id}: '{heading}' needs one Korean summary line '> **요약:** …'"
    assert found, f"{path.name} has no `## ` section"


def test_the_check_sees_a_section_without_korean():
    # A check that found nothing to look at would pass every notebook.
    assert sections("## Only English\ntext") == [("## Only English", ["text"])]
    assert not HANGUL.search("Only English")


GLOSSARY_TERMS = {"호출": "invocation", "세션 상태": "state", "아티팩트": "artifact",
                  "잡 컨텍스트": "JobContext", "자격 증명": "credential", "지침 제공자": "instruction"}


def test_the_glossary_maps_the_documents_korean_terms_to_the_api():
    text = (ROOT / "notebooks" / "glossary_ko.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and HANGUL.search(line)]
    assert len(rows) >= 30
    for korean, api in GLOSSARY_TERMS.items():
        assert any(f"| {korean} " in row and api in row for row in rows), korean


def test_every_cell_the_teachers_page_names_exists():
    """docs/teaching.md names cells as `NN:cell-id`; each must be a cell of notebook NN."""
    text = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    named = re.findall(r"`(\d\d):([\w-]+)`", text)
    assert len(named) >= 60
    ids = {p.name[:2]: {c.get("id") for c in nbformat.read(p, as_version=4).cells} for p in NOTEBOOKS}
    missing = [f"{nb}:{cid}" for nb, cid in named if cid not in ids.get(nb, set())]
    assert not missing, missing
