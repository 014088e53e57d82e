"""The HTML explorer in a real browser: headless Chromium, driven by selenium, network off.

Needs `chromium` and `chromium-driver` (Debian) and `pip install selenium`; CI installs them.
Without them these tests FAIL with what to install, unless CHAINRULE_NO_BROWSER=1 asks to skip.
Screenshots go to pytest's tmp_path, and to $CHAINRULE_SCREENSHOTS when set.
"""

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import autograd as ag
import nn

sys.path.insert(0, str(Path(__file__).parent))
from test_graph_rollup import FakeMonitor  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,900"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if os.environ.get("CHAINRULE_NO_BROWSER") == "1":
        pytest.skip("CHAINRULE_NO_BROWSER=1: the browser tests of the explorer are skipped on request")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.fail("the explorer tests need headless Chromium: apt-get install chromium "
                    "chromium-driver (or set CHAINRULE_NO_BROWSER=1 to skip them)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the explorer tests need selenium: pip install selenium (in the dev extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    yield driver
    driver.quit()


def open_page(driver, path: Path):
    driver.get(path.as_uri())
    for _ in range(200):
        if driver.execute_script("return document.body.getAttribute('data-ready')") == "1":
            break
        time.sleep(0.05)
    assert driver.execute_script("return document.body.getAttribute('data-ready')") == "1"
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    # nothing was fetched: the page is self-contained
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 5000
    out = os.environ.get("CHAINRULE_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(out) / path.name)
    return path


def items(driver, css: str) -> list:
    return driver.find_elements("css selector", css)


def item_by_text(driver, css: str, text: str):
    driver.execute_script("const k = window.explorer.keyOf(arguments[0]);"
                          "if (k) window.explorer.centreOn(k);", text)       # bring it into view
    found = [e for e in items(driver, css)
             if any(line.lstrip("\u25be ").startswith(text) for line in e.text.split("\n"))]
    assert found, f"no {css} showing {text!r}"
    return found[0]


def click(driver, element) -> float:
    """Click; returns the time from the click's handler to the next painted frame (ms)."""
    from selenium.webdriver.common.action_chains import ActionChains
    driver.execute_script("window.explorer.state.lastPaintMs = null")
    ActionChains(driver).move_to_element(element).click().perform()
    return painted(driver)


def painted(driver) -> float:
    for _ in range(200):
        ms = driver.execute_script("return window.explorer.state.lastPaintMs")
        if ms is not None:
            return ms
        time.sleep(0.02)
    raise AssertionError("the page did not repaint after the action")


def hover(driver, element) -> str:
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(driver).move_to_element(element).move_by_offset(1, 1).perform()
    tip = driver.find_element("id", "tip")
    assert tip.is_displayed()
    return tip.text


def fill_of(element) -> str:
    return element.find_element("css selector", ".shape").get_attribute("fill")


def twenty_layer_model():
    layers = [nn.Dense(8, 32, activation="relu", rng=0)]
    layers += [nn.Dense(32, 32, activation="relu", rng=i) for i in range(1, 19)]
    layers += [nn.Dense(32, 3, rng=99)]
    model = nn.Sequential(*layers)
    rng = np.random.default_rng(0)
    with ag.record_values():
        logits = model(ag.tensor(rng.standard_normal((6, 8))))
        loss = nn.functional.cross_entropy(logits, rng.integers(0, 3, 6))
    with ag.record_grad_norms():
        loss.backward()
    names = [n for n, _ in model.named_modules()]
    steps = list(range(0, 100, 10))
    dead = {(s, str(k)): "dead" for s in steps for k in range(1, 20) if k * 5 < s}   # spreads
    return model, loss, FakeMonitor(names, steps, dead)


def test_twenty_layer_model_renders_expands_hovers_searches_and_recolours(browser, tmp_path):
    model, loss, mon = twenty_layer_model()
    page = ag.explore(loss, params=model, monitor=mon, path=tmp_path / "model.html")
    open_page(browser, page.save(tmp_path / "model.html"))
    assert len(items(browser, ".item.node")) >= 2                  # the inputs and the output
    run = item_by_text(browser, ".item.box.run", "Dense(32, 32")
    assert "Dense(32, 32, activation='relu') x 18" in run.text
    assert fill_of(run) == ag.graph.views.STATUS_COLOURS["dead"]     # step 90: all dead
    screenshot(browser, tmp_path, "model_collapsed")
    # hovering a box shows its statistics; the run lists each block's health
    assert "18 identical Dense(32, 32, activation='relu') blocks" in hover(browser, run)
    # a click opens the run into its 18 modules, a click on one opens it
    ms = click(browser, run)
    keys = browser.execute_script("return [...window.explorer.layout().items.keys()]")
    assert sum(k[0] == "c" for k in keys) == 20 and not any(k[0] == "r" for k in keys)
    box5 = item_by_text(browser, ".item.box.module", "5 (Dense)")
    tip = hover(browser, box5)
    assert "health of 5 at step 90: dead" in tip and "grad norm" in tip
    ms2 = click(browser, box5)
    assert browser.execute_script("return window.explorer.keyOf('5 (Dense)')")[0] == "C"
    cluster5 = item_by_text(browser, ".item.cluster", "5 (Dense)")
    op = [e for e in items(browser, ".item.node.op") if e.text.startswith("affine+relu")]
    assert len(op) == 1
    tip = hover(browser, op[0])
    assert tip.startswith("affine+relu") and "value: shape (6, 32)" in tip and "gradient [" in tip
    assert "scope: Sequential > 5 (Dense)" in tip
    assert cluster5.is_displayed()
    hover(browser, op[0])
    screenshot(browser, tmp_path, "model_expanded")
    # a click on the open module's title closes it again
    ms3 = click(browser, cluster5.find_element("css selector", ".cluster-head"))
    assert browser.execute_script("return window.explorer.keyOf('5 (Dense)')")[0] == "c"
    box5 = item_by_text(browser, ".item.box.module", "5 (Dense)")
    click(browser, box5)
    # the slider walks the monitor's steps: at step 0 no module is dead
    box7 = item_by_text(browser, ".item.box.module", "7 (Dense)")
    assert fill_of(box7) == ag.graph.views.STATUS_COLOURS["dead"]
    from selenium.webdriver.common.keys import Keys
    slider = browser.find_element("id", "step")
    slider.send_keys(Keys.HOME)                                     # the keyboard moves it
    assert browser.find_element("id", "steplabel").text == "step 0"
    box7 = item_by_text(browser, ".item.box.module", "7 (Dense)")
    assert fill_of(box7) == ag.graph.views.STATUS_COLOURS["ok"]
    assert "health of 7 at step 0: ok" in hover(browser, box7)
    for _ in range(3):
        slider.send_keys(Keys.ARROW_RIGHT)
    browser.execute_script("window.explorer.state.lastPaintMs = null")
    slider.send_keys(Keys.ARROW_RIGHT)                              # step 40: modules 1..7 dead
    slider_ms = painted(browser)
    assert browser.find_element("id", "steplabel").text == "step 40"
    assert fill_of(item_by_text(browser, ".item.box.module", "7 (Dense)")) == "#999999"
    assert fill_of(item_by_text(browser, ".item.box.module", "8 (Dense)")) == "#93c47d"
    screenshot(browser, tmp_path, "model_step40")
    # search by name opens the module holding the match and marks it
    box = browser.find_element("id", "search")
    box.send_keys("12.weight")
    assert browser.find_element("id", "found").text == "1 of 1"
    hit = items(browser, ".item.hit")
    assert len(hit) == 1 and "12.weight" in hit[0].text
    screenshot(browser, tmp_path, "model_search")
    print(f"\n20-layer model: {page_time(browser)}; open the run {ms:.1f} ms, "
          f"open a module {ms2:.1f} ms, close it {ms3:.1f} ms, move the slider "
          f"{slider_ms:.1f} ms (to the painted frame)")


def page_time(driver) -> str:
    """Navigation start to the first frame on screen, and to the end of the first draw."""
    st = driver.execute_script("return window.explorer.state")
    return f"{st['firstPaintMs']:.0f} ms to the first frame ({st['firstRenderMs']:.0f} to drawn)"


def test_10k_operation_chain_opens_and_responds(browser, tmp_path):
    x = ag.tensor(np.ones(4), requires_grad=True, name="x")
    h = x
    for i in range(10_000):
        h = ag.tanh(h) if i % 2 else h * 1.0001
    loss = h.sum()
    with ag.record_grad_norms():
        loss.backward()
    path = ag.explore(loss).save(tmp_path / "chain.html")
    t0 = time.perf_counter()
    open_page(browser, path)
    wall = time.perf_counter() - t0
    assert browser.execute_script("return window.explorer.layout().items.size") == 10_002
    drawn = items(browser, ".item.node")
    assert 10 < len(drawn) < 500                                   # only what is in view
    assert drawn[0].text.startswith("x")                           # the top: the input leaf
    tip = hover(browser, drawn[1])
    assert tip.startswith("multiply") and "gradient [" in tip
    # drag to pan: the nodes further down are drawn; the wheel zooms
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    canvas = browser.find_element("id", "canvas")
    top = browser.execute_script("return window.explorer.view.y")
    ActionChains(browser).move_to_element_with_offset(canvas, 300, 250).click_and_hold() \
        .move_by_offset(0, -250).move_by_offset(0, -250).release().perform()
    assert browser.execute_script("return window.explorer.view.y") == pytest.approx(top - 500, abs=2)
    time.sleep(0.2)
    keys = [e.get_attribute("data-key") for e in items(browser, ".item.node")]
    assert "n0" not in keys and len(keys) > 10                     # the top left the view
    scale = browser.execute_script("return window.explorer.view.s")
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(canvas), 0, 300).perform()
    time.sleep(0.2)
    zoomed = browser.execute_script("return window.explorer.view.s")
    assert zoomed < scale * 0.8                                    # scrolling down zooms out
    assert len(items(browser, ".item.node")) > len(keys)           # so more nodes are in view
    box = browser.find_element("id", "search")
    box.send_keys("sum")
    assert browser.find_element("id", "found").text == "1 of 1"
    (hit,) = items(browser, ".item.hit")
    assert "output" in hit.text and "sum" in hit.text
    search_ms = painted(browser)
    screenshot(browser, tmp_path, "chain_output")
    print(f"\n10k chain: {page_time(browser)}, {wall * 1000:.0f} ms from driver.get to ready; "
          f"search and jump to the output {search_ms:.1f} ms")


def test_10k_operations_in_100_blocks_expand_by_click(browser, tmp_path):
    x = ag.tensor(np.ones(4), requires_grad=True, name="x")
    h = x
    for b in range(100):
        with ag.scope(f"block{b}"):
            for i in range(100):
                h = ag.tanh(h) if i % 2 else h * 1.0001
    loss = h.sum()
    with ag.record_grad_norms():
        loss.backward()
    path = ag.explore(loss).save(tmp_path / "blocks.html")
    open_page(browser, path)
    (run,) = items(browser, ".item.box.run")
    assert "block x 100" in run.text and "10000 ops" in run.text
    ms_run = click(browser, run)
    keys = browser.execute_script("return [...window.explorer.layout().items.keys()]")
    assert sum(k[0] == "c" for k in keys) == 100
    first = item_by_text(browser, ".item.box.module", "block0")
    ms_block = click(browser, first)
    ops = items(browser, ".item.node.op")
    assert len(ops) >= 5 and ops[0].text.startswith("multiply")
    assert browser.execute_script("return window.explorer.keyOf('block0')")[0] == "C"
    item_by_text(browser, ".item.cluster", "block0")
    screenshot(browser, tmp_path, "blocks_expanded")
    print(f"\n10k ops in 100 blocks: {page_time(browser)}; open the run "
          f"{ms_run:.1f} ms, open a block {ms_block:.1f} ms (to the painted frame)")


def test_the_jupyter_inline_form_renders_inside_its_iframe(browser, tmp_path):
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    with ag.scope("block"):
        y = ag.tanh(x * 3.0)
    loss = y.sum()
    with ag.record_grad_norms():
        loss.backward()
    notebook = tmp_path / "notebook.html"
    notebook.write_text("<html><body><p>cell output:</p>" + ag.explore(loss)._repr_html_()
                        + "</body></html>")
    browser.get(notebook.as_uri())
    browser.switch_to.frame(browser.find_element("tag name", "iframe"))
    try:
        for _ in range(100):
            if browser.execute_script("return document.body.getAttribute('data-ready')") == "1":
                break
            time.sleep(0.05)
        box = item_by_text(browser, ".item.box.module", "block")
        assert "2 ops" in box.text
        click(browser, box)
        labels = [e.text.split("\n")[0] for e in items(browser, ".item.node")]
        assert {"x", "multiply", "tanh"} <= set(labels)
    finally:
        browser.switch_to.default_content()
