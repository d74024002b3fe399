"""App latency in a real browser (Debian's chromium via playwright) against ``streamlit run app.py``.

    python bench/app_latency.py [--repeats 5]

Measures, with the app's default model (promoter-300 when shipped, else the first shipped classifier):
- cold first page load: a fresh server, from navigation to the Home page drawn (the first script run done); the
  server's own start (launch to health check) is reported beside it;
- one 300 bp sequence: from clicking Run to the landscape track drawn, warm (model loaded), each run with a new
  sequence so no cached result is reused; best and median of ``--repeats``;
- 100 uploaded sequences (300 bp FASTA): from clicking Run to the predictions table shown.
Targets (issue 7): one sequence under 1.5 s warm, cold load under 5 s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_browser import FLAGS, free_port  # noqa: E402


def random_fasta(n: int, length: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(f">s{seed}_{i}\n{''.join(rng.choice(list('ACGT'), length))}\n" for i in range(n))


def wait_done(page) -> None:
    page.wait_for_timeout(100)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)
    page.wait_for_function("document.querySelectorAll('[data-stale=\"true\"]').length == 0")


def main() -> None:
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launched = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
                               str(port), "--server.headless", "true"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                started = time.perf_counter() - launched
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"streamlit did not answer on {url} within 20 s")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=os.environ.get("BROWSER_PATH", "/usr/bin/chromium"),
                                                 args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("h1:has-text('DNABERT-viz')", timeout=60_000)
            wait_done(page)
            cold = time.perf_counter() - start

            page.goto(f"{url}/predict")
            page.wait_for_selector("h1:has-text('Predict & explain')")
            wait_done(page)
            one = []
            for repeat in range(args.repeats + 1):  # the first run loads the model: not counted
                page.locator("textarea").first.fill(random_fasta(1, 300, repeat))
                page.locator("textarea").first.blur()
                wait_done(page)
                start = time.perf_counter()
                page.get_by_role("button", name="Run", exact=True).click()
                # this run's own track (its record id in the title), not the previous one still on screen
                page.locator('[data-testid="stPlotlyChart"]').filter(has_text=f"s{repeat}_0:").wait_for(timeout=120_000)
                wait_done(page)
                if repeat:
                    one.append(time.perf_counter() - start)

            page.goto(f"{url}/predict")  # a fresh session: the upload is the only input
            page.wait_for_selector("h1:has-text('Predict & explain')")
            wait_done(page)
            with tempfile.TemporaryDirectory() as folder:
                fasta = Path(folder) / "hundred.fa"
                fasta.write_text(random_fasta(100, 300, 999))
                page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(fasta))
                wait_done(page)
                start = time.perf_counter()
                page.get_by_role("button", name="Run", exact=True).click()
                page.get_by_text("Landscapes of all sequences").wait_for(timeout=300_000)
                wait_done(page)
                hundred = time.perf_counter() - start
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    shipped = sorted(p.name for p in (ROOT / "assets" / "models").iterdir() if p.is_dir())
    print(f"shipped models {shipped}; the app's default is promoter-300 when shipped, else the first classifier; "
          f"chromium headless, {os.cpu_count()} cores")
    print("| case | seconds | target |")
    print("|---|---:|---:|")
    print(f"| server start: `streamlit run app.py` to its health check answering | {started:.2f} | |")
    print(f"| cold first page load (fresh server): navigation to the Home page drawn | {cold:.2f} | < 5 |")
    print(f"| both together | {started + cold:.2f} | |")
    print(f"| Run -> landscape drawn, one 300 bp sequence, warm (best of {len(one)}) | {min(one):.2f} | < 1.5 |")
    print(f"| same, median | {statistics.median(one):.2f} | |")
    print(f"| Run -> table and heatmap shown, 100 uploaded sequences of 300 bp | {hundred:.2f} | |")


if __name__ == "__main__":
    main()
