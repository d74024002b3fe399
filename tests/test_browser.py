"""The app in a real browser: Debian's chromium driven by playwright against ``streamlit run app.py`` on a free
localhost port. Screenshots of each page go to docs/ (the README shows them)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertForMaskedLM

from dnabert_core.model import build_config, save_model
from dnabert_core.tokenizer import KmerTokenizer
from dnabert_core.tokenizer import reverse_complement
from tests.conftest import TINY, random_dna, tiny_classifier
from tests.planted import PLANT, planted_model, planted_sets

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 90_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_models(folder: Path) -> Path:
    """A classifier "tiny", a three-class "tiny3", an encoder without a head "tiny-encoder" and the planted-motif
    model "planted" (tests/planted.py)."""
    save_model(tiny_classifier(3, labels=["background", "site"]), KmerTokenizer(3, 64), folder / "tiny",
               card="# tiny\n\n## Task\n\nA tiny test model.\n")
    save_model(tiny_classifier(3, labels=["acceptor", "donor", "neither"], seed=1), KmerTokenizer(3, 64),
               folder / "tiny3", card="# tiny3\n")
    torch.manual_seed(2)
    save_model(BertForMaskedLM(build_config(3, max_tokens=64, **TINY)).eval(), KmerTokenizer(3, 64),
               folder / "tiny-encoder", card="# tiny encoder\n")
    planted_model(folder / "planted")
    return folder


@contextmanager
def streamlit_server(models: Path) -> Iterator[str]:
    """``streamlit run app.py`` on a free port with ``models`` as the models directory; yields its URL once healthy
    (the health check loads no page, so the first page request still meets a fresh server)."""
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
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_server(write_models(tmp_path_factory.mktemp("models"))) as url:
        yield url


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
    """Wait until the script run ends (the app says it is not running and the status widget has gone) and no exception
    is shown. The status widget alone is not enough: it appears only a moment after a run starts, so on a loaded
    machine it could be found absent while the run was still drawing the page."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
    page.wait_for_function("document.querySelectorAll('[data-stale=\"true\"]').length == 0")
    assert page.locator('[data-testid="stException"]').count() == 0


def open_page(page, url: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_selector("h1")
    wait_idle(page)


def pick_model(page, name: str = "tiny") -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
    page.get_by_role("option", name=name, exact=True).click()
    wait_idle(page)


def pick_tiny(page) -> None:
    pick_model(page, "tiny")


def paste(page, text: str) -> None:
    area = page.locator("textarea")
    area.fill(text)
    area.press("Control+Enter")  # commit the text (as a click elsewhere would)
    wait_idle(page)


def choose_upload(page) -> None:
    page.get_by_text("Upload a file", exact=True).click()
    wait_idle(page)


def press_run(page) -> None:
    page.get_by_role("button", name="Run", exact=True).click()


def predicted_ids(page) -> list[str]:
    """The ids of the predictions table, read from its TSV download."""
    with page.expect_download() as info:
        page.get_by_role("button", name="Download TSV").first.click()
    rows = Path(info.value.path()).read_text().splitlines()
    assert rows[0].startswith("id\tlength\twindows")
    return [row.split("\t")[0] for row in rows[1:]]


def fasta(prefix: str, n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(f">{prefix}{i}\n{random_dna(rng, int(rng.integers(40, 200)))}\n" for i in range(n))


@pytest.mark.parametrize("path, title", [("", "DNABERT-viz"), ("predict", "Predict & explain"),
                                         ("motifs", "Motifs"), ("alleles", "Compare alleles"),
                                         ("scan", "Genome scan"), ("models", "Models")])
def test_every_page_loads(server, page, path, title):
    open_page(page, server, path)
    assert page.locator("h1").first.inner_text().strip() == title
    page.wait_for_load_state("networkidle")  # the images of the Models page arrive after the run
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / f"screenshot_{path or 'home'}.png"), full_page=False)


def test_example_gives_a_landscape_and_downloads(server, page, tmp_path):
    open_page(page, server)
    page.get_by_role("button", name="Promoters (TATA, non-TATA, negatives)").click()
    page.wait_for_selector("h1:has-text('Predict & explain')")
    wait_idle(page)
    # the text area is drawn with the example by the Predict run that the click starts; on a loaded machine the check
    # above can pass before that run has drawn it (CI once read it empty), so wait for what the user sees
    page.wait_for_function("[...document.querySelectorAll('textarea')].some(a => a.value.includes('>TATA_promoter_'))")
    wait_idle(page)
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
    choose_upload(page)
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


def test_three_users_press_run_together(server, browser):
    """Three browsers with 5, 9 and 14 sequences press Run at once: each gets exactly its own table."""
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
                for _ in range(3)]
    try:
        pages = [context.new_page() for context in contexts]
        inputs = {"alice": 5, "bob": 9, "carol": 14}
        for page, (name, n) in zip(pages, inputs.items()):
            page.set_default_timeout(WAIT_MS)
            open_page(page, server, "predict")
            pick_tiny(page)
            paste(page, fasta(f"{name}_", n, seed=n))
        for page in pages:
            press_run(page)  # all three scripts now run on the server together
        for page, (name, n) in zip(pages, inputs.items()):
            page.wait_for_selector('[data-testid="stPlotlyChart"]')
            wait_idle(page)
            assert predicted_ids(page) == [f"{name}_{i}" for i in range(n)]
            track = page.locator('[data-testid="stPlotlyChart"]').filter(has_text=f"{name}_0: ")
            assert track.count() == 1  # the landscape track is of this user's first sequence
    finally:
        for context in contexts:
            context.close()


def test_examples_run_twice(server, page):
    for _ in range(2):
        open_page(page, server)
        page.get_by_role("button", name="Splice sites: acceptor, donor, neither").click()
        page.wait_for_selector("h1:has-text('Predict & explain')")
        wait_idle(page)
        press_run(page)
        page.wait_for_selector('[data-testid="stPlotlyChart"]')
        wait_idle(page)


def test_a_model_switch_without_run_shows_no_old_result(server, page):
    open_page(page, server, "predict")
    pick_tiny(page)
    paste(page, fasta("s", 3, seed=1))
    press_run(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    wait_idle(page)
    pick_model(page, "tiny3")
    caption = page.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]').inner_text()
    assert "tiny3" in caption  # the picker kept the change
    assert page.locator('[data-testid="stDataFrame"]').count() == 0
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
    assert "changed since the last run (it used tiny)" in page.locator('[data-testid="stAlertContentInfo"]').inner_text()


def test_input_and_result_survive_a_visit_to_another_page(server, page):
    open_page(page, server, "predict")
    pick_tiny(page)
    text = fasta("keep", 2, seed=3)
    paste(page, text)
    press_run(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    wait_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Models").click()
    page.wait_for_selector("h1:has-text('Models')")
    wait_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Predict & explain").click()
    page.wait_for_selector("h1:has-text('Predict & explain')")
    wait_idle(page)
    assert page.locator("textarea").input_value() == text
    assert predicted_ids(page) == ["keep0", "keep1"]


def test_an_encoder_shows_landscapes_only(server, page):
    open_page(page, server, "predict")
    pick_model(page, "tiny-encoder")
    paste(page, fasta("e", 2, seed=2))
    press_run(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    wait_idle(page)
    assert page.get_by_text("Predictions", exact=True).count() == 0
    assert page.get_by_text("Overlay integrated-gradients attribution").count() == 0


def test_uploads_are_bounded(server, page, tmp_path):
    import gzip

    from app_pages.common import MAX_TEXT_BYTES, MAX_UPLOAD_MB

    bomb = tmp_path / "bomb.fa.gz"  # 2 records, the second followed by 80 MB of blank lines: about 80 kB compressed
    with gzip.open(bomb, "wb", compresslevel=9) as handle:
        handle.write(b">first\n" + b"ACGT" * 30 + b"\n>second\n" + b"ACGT" * 30 + b"\n")
        for _ in range(80):
            handle.write(b"\n" * 2**20)
    assert bomb.stat().st_size < 2**20
    open_page(page, server, "predict")
    pick_tiny(page)
    choose_upload(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bomb))
    wait_idle(page)
    press_run(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    wait_idle(page)
    warning = page.locator('[data-testid="stAlertContentWarning"]').first.inner_text()
    assert f"stopped at the limit of {MAX_TEXT_BYTES:,} bytes of text" in warning and "dnabert attention" in warning
    assert "record 'second' (header on line 3) was being read and is left out" in warning
    assert predicted_ids(page) == ["first"]
    big = tmp_path / "big.fa"
    big.write_bytes(b">big\n" + b"A" * ((MAX_UPLOAD_MB + 1) * 2**20))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(big))
    page.wait_for_timeout(1000)
    assert f"{MAX_UPLOAD_MB}" in page.locator('[data-testid="stFileUploader"]').inner_text()  # "must be 16MB or smaller"


def test_deep_link_on_a_fresh_server(tmp_path, browser):
    """The first request a new server gets is /predict: the page, its navigation and the model picker are there."""
    with streamlit_server(write_models(tmp_path)) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            open_page(page, url, "predict")
            assert page.locator("h1").first.inner_text().strip() == "Predict & explain"
            sidebar = page.locator('[data-testid="stSidebar"]')
            assert sidebar.locator('[data-testid="stSelectbox"]').count() == 1
            navigation = sidebar.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Predict & explain" in navigation and "common" not in navigation
        finally:
            context.close()


def test_motifs_page_finds_the_planted_motif_with_its_logo(server, page):
    """Positives holding a planted 8-mer against shuffled controls: the motif, its logo (named against JASPAR: the
    first search may wait for Tomtom's compile) and the motifs.tsv download."""
    positives, _ = planted_sets(np.random.default_rng(5))
    open_page(page, server, "motifs")
    pick_model(page, "planted")
    paste(page, "".join(f">{i}\n{s}\n" for i, s, _, _ in positives))
    page.get_by_role("button", name="Find motifs").click()
    page.wait_for_selector('[data-testid="stImage"] img', timeout=240_000)
    wait_idle(page)
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.wait_for_timeout(500)
    page.screenshot(path=str(DOCS / "screenshot_motifs_results.png"))
    with page.expect_download() as info:
        page.get_by_role("button", name="motifs.tsv").click()
    rows = [row.split("\t") for row in Path(info.value.path()).read_text().splitlines()]
    assert rows[0][:4] == ["motif", "consensus", "instances", "x"] and rows[1][0] == "motif_1"
    assert PLANT in rows[1][1] or reverse_complement(PLANT) in rows[1][1]
    with page.expect_download() as info:
        page.get_by_role("button", name="Logo SVG").click()
    assert "<svg" in Path(info.value.path()).read_text()


def test_compare_alleles_from_the_example_vcf(server, page):
    """The example VCF against the shipped ADA2 region: the effects table (largest first), the aligned tracks, the
    table download."""
    open_page(page, server, "alleles")
    pick_tiny(page)
    page.get_by_text("A VCF and a reference", exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    wait_idle(page)
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.wait_for_timeout(500)
    page.screenshot(path=str(DOCS / "screenshot_alleles_results.png"))
    with page.expect_download() as info:
        page.get_by_role("button", name="Download TSV").first.click()
    rows = [row.split("\t") for row in Path(info.value.path()).read_text().splitlines()]
    assert rows[0][:5] == ["chrom", "pos", "id", "ref", "alt"] and "delta_p" in rows[0] and len(rows) > 100
    column = rows[0].index("delta_p")
    deltas = [abs(float(r[column])) for r in rows[1:]]
    assert deltas == sorted(deltas, reverse=True)


def test_genome_scan_of_the_example_region(server, page):
    open_page(page, server, "scan")
    pick_tiny(page)
    region = page.get_by_label("Region (chrom:start-end, 1-based inclusive)")
    region.fill("chr22_17660851_17664150:1-1000")
    region.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Scan", exact=True).click()
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    wait_idle(page)
    page.screenshot(path=str(DOCS / "screenshot_scan_results.png"))
    with page.expect_download() as info:
        page.get_by_role("button", name="bedGraph").click()
    lines = [line.split("\t") for line in Path(info.value.path()).read_text().splitlines()
             if not line.startswith("track")]
    assert lines[0][:2] == ["chr22_17660851_17664150", "0"] and lines[-1][2] == "1000"
