"""The explorer page with hostile names: a name is text, never markup, and never breaks the page."""

import sys
from pathlib import Path

import numpy as np

import autograd as ag
import nn

sys.path.insert(0, str(Path(__file__).parent))
from test_explorer import page_data  # noqa: E402
from test_explorer_browser import browser, open_page  # noqa: E402, F401

HOSTILE = ["<!--<script>", "</script><script>window.PWNED=1</script>",
           '"><img src=x onerror="window.PWNED=2">', "<svg onload=window.PWNED=3>", "a\\<b"]


def hostile_loss():
    params = [nn.Parameter(np.ones(2), name=name) for name in HOSTILE]
    out = ag.tensor(np.ones(2), name=HOSTILE[2])
    for p in params:
        out = out * p
    loss = out.sum()
    loss.backward()
    return loss


def test_no_name_can_open_a_comment_or_end_the_data_script(tmp_path):
    page = ag.explore(hostile_loss(), path=tmp_path / "g.html", title=HOSTILE[0]).html
    data_start = page.index('<script id="graph-data"')
    data = page[data_start:page.index("</script>", data_start)]
    assert "<" not in data[data.index(">") + 1:]          # every "<" of the JSON is escaped
    strings = []

    def walk(x):
        if isinstance(x, str):
            strings.append(x)
        elif isinstance(x, dict):
            [walk(v) for v in (*x.keys(), *x.values())]
        elif isinstance(x, list):
            [walk(v) for v in x]
    walk(page_data(page))
    text = "\n".join(strings)
    assert all(name in text for name in HOSTILE)           # and the names are kept as they are
    assert "<!--" not in page
    clean = nn.Parameter(np.ones(2), name="w")
    plain = ag.explore((clean * 2).sum(), path=tmp_path / "p.html").html
    assert page.count("<script") == plain.count("<script")


def test_a_node_named_like_a_comment_still_draws_in_the_browser(browser, tmp_path):  # noqa: F811
    path = tmp_path / "g.html"
    ag.explore(hostile_loss(), path=path)
    open_page(browser, path)            # this page used to stay blank: its script was swallowed
    assert browser.execute_script("return window.PWNED") is None
    labels = browser.execute_script("return document.body.innerText + "
                                    "Array.from(document.querySelectorAll('svg text'))"
                                    ".map(t => t.textContent).join('\\n')")
    assert HOSTILE[2] in labels
    assert browser.execute_script("return document.querySelectorAll('svg *').length") > 10
