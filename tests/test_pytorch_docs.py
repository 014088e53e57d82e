"""Every ```python block of docs/pytorch.md runs and prints what its comments say.

A `print(...)  # text` line claims its output: `text` exactly, up to a ": " that starts an
explanation, or a prefix where `text` has "...".
"""

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "pytorch.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def claims(block):
    """(index of the print among the block's prints, claimed text, whether it is a prefix)."""
    prints = [line for line in block.splitlines() if line.lstrip().startswith("print(")]
    for i, line in enumerate(prints):
        if "  # " in line:
            text = line.split("  # ", 1)[1].strip()
            if "..." in text:
                yield i, text.split("...")[0].strip(), True
            else:
                yield i, text.split(": ")[0].strip(), False


def test_the_page_has_examples():
    assert len(BLOCKS) == 4
    assert sum(len(list(claims(b))) for b in BLOCKS) >= 10


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_prints_what_it_says(block):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, str(DOC), "exec"), {})
    printed = out.getvalue().splitlines()
    for i, text, prefix in claims(block):
        assert printed[i].startswith(text) if prefix else printed[i] == text, (text, printed[i])
