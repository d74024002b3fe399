"""The app in a real browser: Debian's chromium driven by playwright against ``streamlit run app.py`` on a free
localhost port. Screenshots of each page go to docs/ (the README shows them)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from dnabert_core.model import save_model
from dnabert_core.tokenizer import KmerTokenizer
from tests.conftest import random_dna, tiny_classifier

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 90_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``streamlit run app.py`` with a tiny model in a configured models directory (beside any shipped model)."""
    models = tmp_path_factory.mktemp("models")
    save_model(tiny_classifier(3, labels=["background", "site"]), KmerTokenizer(3, 64), models / "tiny",
               card="# tiny\n\n## Task\n\nA tiny test model.\n")
    port = free_port()
    env = {**os.environ, "DNABERT_MODELS_DIR": str(models), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError(f"streamlit did not start: {process.stdout.read().decode()[-2000:]}")
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def wait_idle(page) -> None:
    """Wait until the script run ends (the status widget disappears) and no exception is shown."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
    page.wait_for_function("document.querySelectorAll('[data-stale=\"true\"]').length == 0")
    assert page.locator('[data-testid="stException"]').count() == 0


def open_page(page, url: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_selector("h1")
    wait_idle(page)


def pick_tiny(page) -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
    page.get_by_role("option", name="tiny").click()
    wait_idle(page)


@pytest.mark.parametrize("path, title", [("", "DNABERT-viz"), ("predict", "Predict & explain"),
                                         ("models", "Models")])
def test_every_page_loads(server, page, path, title):
    open_page(page, server, path)
    assert page.locator("h1").first.inner_text().strip() == title
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / f"screenshot_{path or 'home'}.png"), full_page=False)


def test_example_gives_a_landscape_and_downloads(server, page, tmp_path):
    open_page(page, server)
    page.get_by_role("button", name="Promoters (TATA, non-TATA, negatives)").click()
    page.wait_for_selector("h1:has-text('Predict & explain')")
    wait_idle(page)
    assert ">TATA_promoter_" in page.locator("textarea").input_value()
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    wait_idle(page)
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2  # heatmap and track
    page.set_viewport_size({"width": 1400, "height": 2400})  # the app scrolls inside its own container
    page.wait_for_timeout(500)
    page.screenshot(path=str(DOCS / "screenshot_predict_results.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    with page.expect_download() as info:
        page.get_by_role("button", name="Download TSV").first.click()
    table = Path(info.value.path()).read_text().splitlines()
    assert table[0].split("\t")[:3] == ["id", "length", "windows"] and len(table) == 7
    assert table[1].startswith("TATA_promoter_")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download HTML").first.click()
    html = Path(info.value.path()).read_text()
    assert "plotly" in html.lower() and "TATA_promoter_" in html


def test_upload_with_one_bad_record(server, page, tmp_path):
    rng = np.random.default_rng(0)
    fasta = tmp_path / "mixed.fa"
    fasta.write_text(f">ok1\n{random_dna(rng, 60)}\n>broken\nACGT!ACGT\n>ok2\n{random_dna(rng, 90)}\n")
    open_page(page, server, "predict")
    pick_tiny(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(fasta))
    wait_idle(page)
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    wait_idle(page)
    warnings = page.locator('[data-testid="stAlertContentWarning"]')
    assert warnings.count() == 1 and "1 record(s) rejected" in warnings.first.inner_text()
    assert "record 'broken', position 5: invalid character '!'" in page.locator('[data-testid="stCode"]').inner_text()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").nth(1).click()  # the first is the rejected-records table
    rows = Path(info.value.path()).read_text().splitlines()
    assert rows[0].startswith("id,length,windows") and [r.split(",")[0] for r in rows[1:]] == ["ok1", "ok2"]
