"""The results page (unlearn_bench/report/page.py): the per-example decisions against the MIA metric, the page's content
from a small benchmark folder, and in headless Chromium: tables, plots and images render and the per-example view
follows the chosen method."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from unlearn_bench.metrics.mia import svc_mia_efficacy
from unlearn_bench.report.claims import load_seed_tables
from unlearn_bench.report.page import Examples, model_examples, render_page, sections_from_benchmark, write_page

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("ft", "ga", "salun")


def fake_arrays(rng: np.random.Generator, sharpness: float, n_forget: int = 30) -> dict[str, np.ndarray]:
    """Logits of a 3-class model: members (D_r) confident, test examples less; D_f as confident as ``sharpness``."""
    def logits(n: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 3, n)
        out = rng.normal(0, 1, (n, 3)).astype(np.float32)
        out[np.arange(n), labels] += scale * rng.uniform(0.2, 1.0, n)
        return out, labels

    (retain, retain_y), (test, test_y), (forget, forget_y) = logits(80, 6.0), logits(60, 2.0), logits(n_forget,
                                                                                                    sharpness)
    return {"retain_logits": retain, "retain_labels": retain_y, "test_logits": test, "test_labels": test_y,
            "forget_logits": forget, "forget_labels": forget_y, "forget_test_logits": np.zeros((0, 3), np.float32),
            "forget_test_labels": np.zeros(0, np.int64), "test_in_forget_class": np.zeros(60, bool)}


def test_per_example_decisions_are_the_mia_metric_example_by_example():
    rng = np.random.default_rng(0)
    for sharpness in (0.5, 3.0, 6.0):
        arrays = fake_arrays(rng, sharpness)
        member, confidence, tpr, auc = model_examples(arrays)
        n = 60  # min(|D_r|, |test|), as evaluation.MIAEfficacy
        mia = svc_mia_efficacy(arrays["retain_logits"][:n], arrays["retain_labels"][:n], arrays["test_logits"],
                               arrays["test_labels"], arrays["forget_logits"], arrays["forget_labels"])
        assert 100.0 * (1 - member.mean()) == pytest.approx(mia)
        assert confidence.shape == (30,) and np.all((confidence > 0) & (confidence < 1))
        assert tpr[0] <= tpr[-1] == 1.0 and np.all(np.diff(tpr) >= 0) and 0 <= auc <= 100


def fake_benchmark(folder: Path) -> Path:
    """A benchmark folder as the Fashion-MNIST one: seeds/<setting>.csv (Original, Retrain, three methods, ten
    seeds, one failed run) and examples/random10.npz where ga keeps every forget example a member and salun none."""
    rng = np.random.default_rng(1)
    rows = []
    for seed in range(2, 12):
        for method, level in (("original", 9.0), ("retrain", 0.0), ("ft", 2.0), ("ga", 6.0), ("salun", 2.0)):
            metrics = {"UA": 10 + level, "RA": 99 - level / 10, "TA": 83.0, "MIA": 20 + level}
            # ft and salun differ by +-0.2 with alternating sign: a paired test cannot separate them
            gap = level + (0.1 if seed % 2 else -0.1) * (-1 if method == "salun" else 1) + 0.01 * seed if level else 0.
            rows.append({"setting": "random10", "method": method, "seed": seed, "status": "ok", **metrics,
                         **{f"gap_{k}": gap for k in metrics}, "avg_gap": gap, "rte_s": 1.0 + level,
                         "data_access": "forget,retain", "training_free": False, "preset": "", "preset_sha": ""})
    rows[-1]["status"] = "failed"
    (folder / "seeds").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "seeds" / "random10.csv", index=False)
    n = 12
    found = Examples("random10", 2, rng.integers(0, 10, n), rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8))
    for method, member in (("retrain", np.arange(n) % 2 == 0), ("ft", np.arange(n) % 2 == 0),
                           ("ga", np.ones(n, bool)), ("salun", np.zeros(n, bool))):
        found.member[method], found.confidence[method] = member, rng.uniform(0, 1, n)
        found.roc[method], found.auc[method] = np.linspace(0, 1, 101), 50.0
    found.save(folder / "examples" / "random10.npz")
    return folder


def test_examples_round_trip(tmp_path):
    folder = fake_benchmark(tmp_path / "bench")
    found = Examples.load(folder / "examples" / "random10.npz")
    assert found.seed == 2 and sorted(found.member) == ["ft", "ga", "retrain", "salun"]
    assert found.member["ga"].all() and not found.member["salun"].any() and found.images.shape == (12, 8, 8, 1)


def test_page_holds_every_setting_table_plot_and_example(tmp_path):
    folder = fake_benchmark(tmp_path / "bench")
    page = render_page(sections_from_benchmark(folder), "t", "s")
    # offline: nothing fetched (namespace URIs in the SVGs are names, not requests)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import""", page)
    table = page[page.index('<table class="results">'):page.index("</table>")]
    rows = {cells[0]: cells for cells in ([html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
                                          for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)) if cells}
    # ft and salun (one failed seed) are tied; ga and the Original each sit in a group of their own
    assert rows["ft"][1] == rows["salun"][1] == "1" and rows["ga"][1] == "2" and rows["Original"][1] == "3"
    assert rows["Retrain"][1] == "" and rows["salun"][-2] == "9" and rows["salun"][-1] == "1 failed"
    mean = load_seed_tables(folder)["random10"].query("method == 'ga'")["avg_gap"].mean()
    assert rows["ga"][6] == f"{mean:.2f}"
    assert page.count("<svg") == 2  # the seed dots and the MIA ROC of the examples' seed
    assert page.count("data:image/png;base64,") == 12


def test_report_format_html_writes_the_page_of_a_records_folder(tmp_path):
    from tests.report.test_report import write_two_seeds
    from unlearn_bench.report.cli import main

    write_two_seeds(tmp_path / "runs")
    assert main([str(tmp_path / "runs"), "--format", "html", "--output", str(tmp_path / "page.html")]) == 0
    page = (tmp_path / "page.html").read_text()
    table = page[page.index('<table class="results">'):page.index("</table>")]
    assert [re.search(r"<td>(.*?)</td>", row)[1] for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
            if "<td>" in row] == ["Original", "Retrain", "salun"]
    # SalUn's Avg. Gap: seed 0 (3 + 1 + 0 + 2) / 4 = 1.5, seed 1 (2 + 3 + 1 + 2) / 4 = 2.0 -> 1.75
    assert "<td>1.75</td>" in table and '"digits-small_cnn-random10-none"' not in page  # no examples: no arrays
    assert main([str(tmp_path / "empty"), "--format", "html"]) == 1


def chrome():
    """A headless Chromium through selenium and Debian's chromium-driver; skips where they are absent."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install selenium)")
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium "
                    "chromium-driver; .ci/run installs them)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1600"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(driver))


RENDERED = """
const visible = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
return {
  rows: Array.from(document.querySelectorAll("table.results tbody tr")).filter(visible).length,
  plots: Array.from(document.querySelectorAll("figure.plot svg")).filter(visible).length,
  marks: document.querySelectorAll("figure.plot svg path, figure.plot svg use").length,
  images: Array.from(document.querySelectorAll("#example-grid img")).filter(i => i.complete && i.naturalWidth > 0
                                                                              && visible(i)).length,
  remembered: document.querySelectorAll("#example-grid .cell.remembered").length,
  overforgotten: document.querySelectorAll("#example-grid .cell.overforgotten").length,
  summary: document.getElementById("example-summary").textContent,
};
"""


def choose(browser, method: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "method-choice")).select_by_value(method)


@pytest.mark.slow
def test_page_renders_in_chromium_and_the_view_follows_the_method(tmp_path):
    browser = chrome()
    try:
        folder = fake_benchmark(tmp_path / "bench")
        page = write_page(sections_from_benchmark(folder), tmp_path / "page.html", "t", "s")
        browser.get(page.as_uri())
        choose(browser, "ft")  # the same decisions as Retrain's: no example differs
        first = browser.execute_script(RENDERED)
        assert first["rows"] == 5 and first["plots"] == 2 and first["marks"] > 10 and first["images"] == 12
        assert (first["remembered"], first["overforgotten"]) == (0, 0)
        choose(browser, "ga")  # every example a member: the six Retrain calls non-members are still members
        second = browser.execute_script(RENDERED)
        assert (second["remembered"], second["overforgotten"]) == (6, 0) and second["summary"] != first["summary"]
        choose(browser, "salun")
        assert browser.execute_script(RENDERED)["overforgotten"] == 6
    finally:
        browser.quit()


@pytest.mark.slow
def test_committed_fmnist_page_renders_in_chromium():
    page = ROOT / "results" / "fmnist" / "index.html"
    browser = chrome()
    try:
        browser.get(page.as_uri())
        shown = browser.execute_script(RENDERED)
        settings = len(load_seed_tables(ROOT / "results" / "fmnist"))
        assert shown["plots"] >= settings and shown["images"] > 0 and shown["rows"] > 10 * settings
        assert len(browser.find_elements("css selector", ".claim")) > 0
    finally:
        browser.quit()


@pytest.mark.slow
def test_records_page_shows_each_forget_example_of_a_real_sweep(tmp_path):
    """A tiny digits sweep (Retrain and FT, seed 0): the page's per-example view holds every forget image and each
    model's decisions, whose share of non-members is the record's MIA."""
    import json

    from tests.test_packs import sweep_runs
    from unlearn_bench.report.page import sections_from_records

    records = dict(zip(("retrain", "ft"), sweep_runs(tmp_path, tmp_path / "cache", "sweep")))
    (section,) = sections_from_records(tmp_path / "sweep")
    found = section.examples
    assert found is not None and found.seed == 0 and sorted(found.member) == ["ft", "retrain"]
    assert found.images.shape[0] == records["ft"]["forget_size"] == len(found.labels)
    assert found.images.dtype == np.uint8 and found.images.std() > 0  # real digits, not a blank placeholder
    for method, record in records.items():
        assert 100.0 * (1 - found.member[method].mean()) == pytest.approx(record["metrics"]["MIA"])
    page = render_page([section], "t", "s")
    data = json.loads(re.search(r'<script type="application/json" id="examples">(.*?)</script>', page, re.S)[1])
    (view,) = data.values()
    assert view["methods"] == ["ft"] and len(view["images"]) == len(found.labels) and view["has_retrain"]


def test_ulira_roc_is_drawn_from_the_recorded_scores(tmp_path):
    import json

    from tests.report.test_report import fake_record
    from unlearn_bench.report.page import ROC_POINTS, sections_from_records, ulira_curves
    from unlearn_bench.results import load_records

    metrics = {"UA": 1.0, "RA": 99.0, "TA": 90.0, "MIA": 5.0}
    for seed, (method, apart) in enumerate((("salun", 1.0), ("ga", -1.0))):
        folder = tmp_path / "runs" / method
        folder.mkdir(parents=True)
        record = fake_record(seed, metrics, metrics, metrics, 30.0) | {"run_key": method, "method": method}
        record["metrics"] = {**metrics, "ULiRA_AUC": 100.0 if apart > 0 else 0.0}
        (folder / "record.json").write_text(json.dumps(record))
        # row 0: the unlearned target's scores on D_f, row 1: Retrain's; salun's all above, ga's all below
        np.savez(folder / "arrays.npz", ulira_scores=np.stack([np.arange(4.0) + 5 * apart, np.arange(4.0)]))
    curves, auc = ulira_curves(load_records(tmp_path / "runs"))
    half = int(np.searchsorted(ROC_POINTS, 0.5))
    assert curves["salun"][half] == 1.0 and curves["ga"][half] == 0.0 and auc == {"salun": 100.0, "ga": 0.0}
    (section,) = sections_from_records(tmp_path / "runs")
    assert any(title.startswith("U-LiRA ROC") and "<svg" in image for title, image in section.figures.items())
