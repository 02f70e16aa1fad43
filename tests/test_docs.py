"""The documentation stands alone: every relative link resolves inside the repository, nothing points outside it,
and the index lists every page of docs/."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "reward_models" / "cards").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://", target):
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(REPO), f"{page.name} links outside the repository: {target}"
        assert resolved.exists(), f"{page.name} links to a missing file: {target}"
    assert "REFERENCE.md" not in text and "../shared" not in text, f"{page.name} points outside the repository"


def test_the_index_lists_every_page_and_the_readme_links_it():
    index = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    listed = set(LINK.findall(index))
    pages = {p.name for p in (REPO / "docs").glob("*.md")} - {"index.md"}
    assert pages <= listed, f"docs/index.md does not list {sorted(pages - listed)}"
    assert "](docs/index.md)" in (REPO / "README.md").read_text(encoding="utf-8")
