"""App latency in a real browser (Debian's chromium via playwright) against ``streamlit run app.py``.

    python bench/app_latency.py [--repeats 5] [--users 4] [--batch 20]

Measures, with the app's default model (promoter-300 when shipped, else the first shipped classifier):
- cold first page load: a fresh server, from navigation to the Home page drawn (the first script run done); the
  server's own start (launch to health check) is reported beside it;
- one 300 bp sequence: from clicking Run to the landscape track drawn, warm (model loaded), each run with a new
  sequence so no cached result is reused; best and median of ``--repeats``;
- 100 uploaded sequences (300 bp FASTA): from clicking Run to the predictions table shown;
- ``--users`` browsers at once (default 4), each with its own ``--batch`` sequences of 300 bp (default 20): every
  user's time from its own click on Run to its own landscape track drawn, beside one user alone with the same
  amount of work (the server shares 2 cores: each should wait about the sum of the work, no more);
- figure downloads: from clicking "Download PNG" (and SVG, HTML) of the heatmap of the 100 sequences and of the
  track to the file arriving (the figure is rendered on click).
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


def fill(page, text: str) -> None:
    page.locator("textarea").first.fill(text)
    page.locator("textarea").first.blur()
    wait_done(page)


def download_times(page) -> dict[str, float]:
    """Seconds from a click on each download button of the heatmap (first figure) and track to the file."""
    times = {}
    for figure, index in (("heatmap of 100", 0), ("track", 1)):
        for fmt in ("PNG", "SVG", "HTML"):
            start = time.perf_counter()
            with page.expect_download(timeout=120_000):
                page.get_by_role("button", name=f"Download {fmt}").nth(index).click()
            times[f"{figure} {fmt}"] = time.perf_counter() - start
    return times


def concurrent_users(browser, url: str, users: int, batch: int) -> tuple[float, list[float]]:
    """(one user's Run -> own track seconds, each of ``users`` users' seconds when all press Run together)."""
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(users)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.goto(f"{url}/predict")
            page.wait_for_selector("h1:has-text('Predict & explain')", timeout=60_000)
            wait_done(page)

        def run(page, seed: int) -> float:
            page.get_by_role("button", name="Run", exact=True).click()
            return time.perf_counter()

        def finished(page, seed: int) -> bool:
            drawn = page.locator('[data-testid="stPlotlyChart"]').filter(has_text=f"s{seed}_0:").count() > 0
            return drawn and page.locator('[data-testid="stStatusWidget"]').count() == 0

        def wait_all(pending: dict[int, tuple[object, float]]) -> dict[int, float]:
            """Poll every page (each user's own track, its script run over) so that each time is read when that
            user's result arrives, not after the others'."""
            seconds = {}
            deadline = time.perf_counter() + 600
            while pending and time.perf_counter() < deadline:
                for seed, (page, clicked) in list(pending.items()):
                    if finished(page, seed):
                        seconds[seed] = time.perf_counter() - clicked
                        del pending[seed]
                time.sleep(0.05)
            if pending:
                raise SystemExit(f"users {sorted(pending)} got no result within 600 s")
            return seconds

        fill(pages[0], random_fasta(batch, 300, 500))
        alone = wait_all({500: (pages[0], run(pages[0], 500))})[500]
        seeds = [600 + user for user in range(users)]
        for page, seed in zip(pages, seeds):
            fill(page, random_fasta(batch, 300, seed))
        pending = {seed: (page, run(page, seed)) for page, seed in zip(pages, seeds)}
        together = wait_all(pending)
        return alone, [together[seed] for seed in seeds]
    finally:
        for context in contexts:
            context.close()


def main() -> None:
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--batch", type=int, default=20, help="sequences per user in the concurrency case")
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
                fill(page, random_fasta(1, 300, repeat))
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
            page.get_by_text("Upload a file").click()
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
                downloads = download_times(page)
            alone, together = concurrent_users(browser, url, args.users, args.batch)
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
    for name, seconds in downloads.items():
        print(f"| click -> file, {name} | {seconds:.2f} | |")
    print(f"| Run -> own track, one user alone, {args.batch} x 300 bp | {alone:.2f} | |")
    print(f"| same, {args.users} users pressing Run together: slowest user | {max(together):.2f} | "
          f"<= {args.users} x alone = {args.users * alone:.2f} |")
    print(f"| same, {args.users} users together: mean, and each user "
          f"({', '.join(f'{t:.1f}' for t in together)}) | {statistics.mean(together):.2f} | |")


if __name__ == "__main__":
    main()
