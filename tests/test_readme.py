"""The README's first example runs as written and prints what its comments say (a user's first contact)."""

from __future__ import annotations

import contextlib
import io
import re
import warnings

from tests.conftest import REPO


def test_first_example_prints_its_commented_rewards():
    block = re.search(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S).group(1)
    expected = [line.split("# ", 1)[1].strip() for line in block.splitlines() if line.startswith("print(")]
    out = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out):
        warnings.simplefilter("error", UserWarning)  # no "reward must be a float" from Gymnasium's checker
        exec(compile(block, "README.md", "exec"), {})
    printed = out.getvalue().splitlines()
    assert len(printed) == len(expected) == 3
    assert printed[0].startswith(expected[0].removesuffix("...").strip())
    assert printed[1:] == expected[1:]
