"""The README's Python examples run as written and print what their comments say (a user's first contact)."""

from __future__ import annotations

import contextlib
import io
import re
import warnings

from tests.conftest import REPO


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)


def _run(block: str) -> tuple[list[str], list[str]]:
    """What the block prints, line by line, and what the comments of its print calls say it prints."""
    expected = [line.split("# ", 1)[1].strip() for line in block.splitlines() if line.startswith("print(")]
    out = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out):
        warnings.simplefilter("error", UserWarning)  # no "reward must be a float" from Gymnasium's checker
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    return out.getvalue().splitlines(), expected


def test_first_example_prints_its_commented_rewards():
    printed, expected = _run(_blocks()[0])
    assert len(printed) == len(expected) == 3
    assert printed[0].startswith(expected[0].removesuffix("...").strip())
    assert printed[1:] == expected[1:]


def test_own_agent_example_goes_to_the_board_and_prints_its_commented_hv(tmp_path, monkeypatch):
    block = next(b for b in _blocks() if "class OpenQuestion" in b)
    monkeypatch.chdir(tmp_path)  # it writes open-question.json and the board folder my-board/
    printed, expected = _run(block)
    assert printed == expected and len(printed) == 2
    assert len(list((tmp_path / "my-board").rglob("open-question-*.json"))) == 1
