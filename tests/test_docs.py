"""The repository explains itself: sources cited in code and docs exist in the repository.

Code comments cite the project's own pages by heading ("docs/protocol.md, 'Signing'");
these tests fail when a cited page or heading does not exist, or when anything points at
research notes that are not part of the repository. (The site build, ``mkdocs build
--strict`` in CI, checks the links inside docs/ itself.)
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Built from parts so that this file does not itself contain what it forbids.
_NOTES = ("PROTO" + "COL", "TRANS" + "PORT", "DES" + "IGN", "STY" + "LE", "PE" + "ERS")
_FORBIDDEN = re.compile(
    "|".join([*(rf"\b{n}\.md" for n in _NOTES), r"\.\./" + "shared", "/" + "work/"])
)
# A citation: the page, a comma, then the heading in quotes (possibly on the next line).
_CITATION = re.compile(r"docs/([a-z_]+)\.md,\s*(?:#\s*)?['\"]([^'\"]+)['\"]")


def _text_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "mkdocs.yml"]
    files += [ROOT / "setup.cfg", ROOT / "pyproject.toml", ROOT / ".pre-commit-config.yaml"]
    files += sorted((ROOT / ".ci").iterdir())
    for top in ("kalshi_sync", "tests", "examples", "bench", "docs"):
        files += sorted(p for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".md"))
    return [p for p in files if p.is_file()]


def _headings(page: str) -> set[str]:
    text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
    return {_plain(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.M)}


def _plain(heading: str) -> str:
    return re.sub(r"\s+", " ", heading.replace("`", "")).strip()


def _names_heading(cited: str, headings: set[str]) -> bool:
    """The heading itself, or its leading words when the heading goes on ("Rate limits" for
    "Rate limits (token buckets)", "Historical cutoff" for "Historical cutoff — GET ...")."""
    return any(
        h == cited or any(h.startswith(cited + sep) for sep in (" (", " —", ": ")) for h in headings
    )


def _citations() -> list[tuple[Path, str, str]]:
    out = []
    for path in _text_files():
        # Join wrapped comment lines so a citation split over two lines is still one.
        text = re.sub(r"\n\s*(?:#\s*)?", " ", path.read_text(encoding="utf-8"))
        out += [(path, page, _plain(h)) for page, h in _CITATION.findall(text)]
    return out


def test_nothing_points_outside_the_repository() -> None:
    """No file cites the research notes or paths that exist only on the author's machine."""
    hits = []
    for path in _text_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "references to files outside the repository:\n" + "\n".join(hits)


def test_citations_name_existing_pages_and_headings() -> None:
    """Every "docs/<page>.md, '<heading>'" citation names a page and a heading that exist."""
    citations = _citations()
    assert len(citations) >= 10  # the scan itself works: the code does cite the docs
    headings = {p.stem: _headings(p.stem) for p in DOCS.glob("*.md")}
    broken = [
        f"{path.relative_to(ROOT)}: docs/{page}.md, {heading!r}"
        for path, page, heading in citations
        if not _names_heading(heading, headings.get(page, set()))
    ]
    assert not broken, "citations of missing docs sections:\n" + "\n".join(sorted(set(broken)))


def test_every_docs_page_cited_by_path_exists() -> None:
    """A bare "docs/<page>.md" in code or docs names a page that exists."""
    missing = []
    for path in _text_files():
        for page in re.findall(r"docs/([a-z_]+)\.md", path.read_text(encoding="utf-8")):
            if not (DOCS / f"{page}.md").is_file():
                missing.append(f"{path.relative_to(ROOT)}: docs/{page}.md")
    assert not missing, "\n".join(sorted(set(missing)))
