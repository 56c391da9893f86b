"""Pure efficiency and unique rate beyond the reference menu, against hand counts on hand-made events.

10 signal and 20 background events; the reference menu's decisions are fixed by construction of their trigger objects
(a 30 GeV muon fires SingleMu22, 100 GeV of MET fires ETM90) and the scores are chosen so that every count is read off.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from l1ad.benchmark.datasets.manifest import DatasetRef
from l1ad.benchmark.evaluation.metrics import beyond_menu
from l1ad.benchmark.evaluation.report import METRICS, MetricsReport, evaluate_scores, read_metrics
from l1ad.benchmark.statistics import clopper_pearson
from l1ad.benchmark.trigger.menu import menu_decisions
from l1ad.config import EvaluationConfig
from l1ad.config.menu import MenuConfig
from l1ad.errors import StageOutputError
from l1ad.files import write_json_model

MET, MU = 0, 5  # first slot of MET and of the muons in the ADC2021 layout
CL = 0.6827
ZERO_BIAS = DatasetRef(name="zb", version="0", digest="d", zero_bias=True)
PRESELECTED = DatasetRef(name="adc", version="0", digest="d", zero_bias=False)

# Background scores 0..19; 200 kHz at a 1 MHz collision rate is FPR 0.2: the 4 highest (16..19) are accepted
# (threshold 15). The menu accepts background events 5 and 18 (MET): one of the four accepted is the menu's.
BACKGROUND_SCORES = np.arange(20, dtype=np.float64)
BACKGROUND_MENU = [5, 18]
# Signal: the first 5 are above 15; the menu accepts events 0, 2 (accepted by the model too) and 7 (rejected).
SIGNAL_SCORES = np.array([20, 19.5, 18, 16.5, 15.5, 14, 10, 3, 2, 1], dtype=np.float64)
SIGNAL_MENU = [0, 2, 7]
CFG = EvaluationConfig(rates_khz=[200.0], leaderboard_rate_khz=200.0, collision_rate_mhz=1.0, bootstrap_samples=0,
                       min_background_accepted=1, fprs=[0.2], leaderboard_fpr=0.2, confidence_level=CL)


def _objects(n: int, muon: list[int] = (), met: list[int] = ()) -> np.ndarray:
    """Trigger objects (n, 19, 4): empty events, with a 30 GeV muon or 100 GeV of MET in the listed ones."""
    x = np.zeros((n, 19, 4), dtype=np.float32)
    x[list(muon), MU] = (30, 0.0, 0.0, 3)
    x[list(met), MET] = (100, 0.0, 1.0, 1)
    return x


def _menu(particles: np.ndarray) -> np.ndarray:
    return menu_decisions(particles, MenuConfig())["menu"]


def _evaluate(signal_menu: np.ndarray, background_menu: np.ndarray, dataset: DatasetRef = ZERO_BIAS,
              cfg: EvaluationConfig = CFG) -> MetricsReport:
    scores = {"background_test": BACKGROUND_SCORES, "sig": SIGNAL_SCORES}
    return evaluate_scores(scores, ["sig"], cfg, model="m", dataset=dataset,
                           menu_accepts={"background_test": background_menu, "sig": signal_menu})


def test_menu_decisions_of_the_hand_made_events_are_as_constructed():
    assert np.flatnonzero(_menu(_objects(10, muon=SIGNAL_MENU))).tolist() == SIGNAL_MENU
    assert np.flatnonzero(_menu(_objects(20, met=BACKGROUND_MENU))).tolist() == BACKGROUND_MENU


def test_pure_efficiency_and_unique_rate_match_hand_counts():
    report = _evaluate(_menu(_objects(10, muon=SIGNAL_MENU)), _menu(_objects(20, met=BACKGROUND_MENU)))
    row = report.at("rate_200khz")[0]
    assert row.threshold == 15.0 and row.n_signal_accepted == 5 and row.n_background_accepted == 4
    # signal: accepted 0-4, of which the menu has 0 and 2 -> pure 1, 3, 4
    assert row.n_signal_pure == 3 and row.pure_efficiency == pytest.approx(0.3)
    assert (row.pure_efficiency_lo, row.pure_efficiency_hi) == pytest.approx(clopper_pearson(3, 10, CL))
    assert row.n_signal_menu == 3 and row.menu_efficiency == pytest.approx(0.3)
    # background: accepted 16-19, of which the menu has 18 -> unique 16, 17, 19
    assert row.n_background_unique == 3 and row.unique_background_fpr == pytest.approx(3 / 20)
    lo, hi = clopper_pearson(3, 20, CL)
    assert (row.unique_background_fpr_lo, row.unique_background_fpr_hi) == pytest.approx((lo, hi))
    assert row.unique_rate_khz == pytest.approx(150.0)  # 3/20 of 1 MHz
    assert (row.unique_rate_lo_khz, row.unique_rate_hi_khz) == pytest.approx((lo * 1e3, hi * 1e3))
    assert row.n_background_menu == 2 and row.menu_background_fpr == pytest.approx(0.1)
    assert row.menu_rate_khz == pytest.approx(100.0)
    # the tightest working point (FPR 1e-5) accepts nothing: nothing pure or unique either
    tight = report.at("fpr_1e-05")[0]
    assert tight.n_signal_accepted == 2 and tight.n_signal_pure == 1  # 20 and 19.5 are above 19; 20 is the menu's
    assert tight.n_background_unique == 0 and tight.unique_rate_khz == 0.0
    assert report.menu == CFG.menu


def test_menu_accepting_everything_leaves_nothing_pure():
    report = _evaluate(np.ones(10, dtype=bool), np.ones(20, dtype=bool))
    for row in report.rows:
        assert row.pure_efficiency == 0 and row.n_signal_pure == 0 and row.menu_efficiency == 1
        assert row.pure_efficiency_lo == 0 and row.pure_efficiency_hi == pytest.approx(clopper_pearson(0, 10, CL)[1])
        assert row.unique_background_fpr == 0 and row.unique_rate_khz == 0 and row.menu_rate_khz == pytest.approx(1e3)
    # while the plain efficiency is untouched by the menu
    assert report.at("rate_200khz")[0].efficiency == pytest.approx(0.5)


@pytest.mark.parametrize("cfg", [CFG, EvaluationConfig(  # 7 of 20 at 28.61 MHz: kHz depend on the rounding order
    rates_khz=[10100.0], leaderboard_rate_khz=10100.0, bootstrap_samples=0, min_background_accepted=1)])
def test_menu_accepting_nothing_makes_pure_equal_plain(cfg):
    report = _evaluate(_menu(_objects(10)), _menu(_objects(20)), cfg=cfg)
    assert max(row.n_background_accepted for row in report.rows) == (4 if cfg is CFG else 7)
    for row in report.rows:
        assert row.n_signal_pure == row.n_signal_accepted and row.pure_efficiency == row.efficiency
        assert (row.pure_efficiency_lo, row.pure_efficiency_hi) == (row.efficiency_lo, row.efficiency_hi)
        assert row.n_background_unique == row.n_background_accepted
        assert row.unique_rate_khz == row.background_rate_khz  # exactly: computed as the background rate is
        assert row.menu_efficiency == 0 and row.menu_rate_khz == 0


def test_preselected_background_has_unique_fractions_but_no_rates():
    report = _evaluate(_menu(_objects(10, muon=SIGNAL_MENU)), _menu(_objects(20, met=BACKGROUND_MENU)), PRESELECTED)
    row = report.at("fpr_2e-01")[0]
    assert row.n_signal_pure == 3 and row.unique_background_fpr == pytest.approx(3 / 20)
    assert row.unique_rate_khz is None and row.unique_rate_lo_khz is None and row.menu_rate_khz is None
    table = report.table()
    assert {"pure_efficiency", "unique_background_fpr", "unique_rate_khz", "n_background_unique"} <= set(table.columns)
    assert set(table.menu) == {" ".join(s.name for s in MenuConfig().seeds)}


def test_menu_decisions_must_match_the_scored_events():
    with pytest.raises(ValueError, match="no menu decisions for sample 'sig'"):
        evaluate_scores({"background_test": BACKGROUND_SCORES, "sig": SIGNAL_SCORES}, ["sig"], CFG, model="m",
                        dataset=ZERO_BIAS, menu_accepts={"background_test": np.zeros(20, dtype=bool)})
    with pytest.raises(ValueError, match="one boolean per scored event"):
        beyond_menu(SIGNAL_SCORES, 15.0, np.zeros(9, dtype=bool))
    with pytest.raises(ValueError, match="one boolean per scored event"):
        beyond_menu(SIGNAL_SCORES, 15.0, np.zeros(10))  # 0/1 floats are not decisions


def test_metrics_round_trip_and_an_older_schema_is_refused_with_how_to_regenerate(tmp_path):
    report = _evaluate(_menu(_objects(10, muon=SIGNAL_MENU)), _menu(_objects(20, met=BACKGROUND_MENU)))
    write_json_model(tmp_path / METRICS, report)
    assert read_metrics(tmp_path) == report
    old = json.loads((tmp_path / METRICS).read_text())
    old["schema"] = "l1ad-metrics/1"
    (tmp_path / METRICS).write_text(json.dumps(old))
    with pytest.raises(StageOutputError, match=r"metrics.json: metrics of schema 'l1ad-metrics/1', this version of "
                       r"l1ad reads l1ad-metrics/2; re-run 'l1ad evaluate'") as refused:
        read_metrics(tmp_path)
    assert "\n" not in str(refused.value)


# -- leaderboard ----------------------------------------------------------------------------------------------------
def test_board_entry_carries_pure_efficiencies_and_the_unique_rate_of_the_headline():
    from l1ad.leaderboards.board import Entry, EntryProvenance, entry_from_reports, render_markdown

    report = _evaluate(_menu(_objects(10, muon=SIGNAL_MENU)), _menu(_objects(20, met=BACKGROUND_MENU)))
    report = report.model_copy(update={"trained_on": report.dataset.digest})
    provenance = EntryProvenance(l1ad_version="0", git_commit=None, config="c", config_digest="x", seed=0,
                                 n_background_test=20, efficiency_source=report.source, date="2026-01-01")
    entry = entry_from_reports(report, None, submitter="s", provenance=provenance)
    result = entry.signals["sig"]
    assert (result.efficiency, result.pure_efficiency, result.menu_efficiency) == pytest.approx((0.5, 0.3, 0.3))
    assert (result.pure_efficiency_lo, result.pure_efficiency_hi) == pytest.approx(clopper_pearson(3, 10, CL))
    assert entry.unique_rate_khz == pytest.approx(150.0) and entry.menu_rate_khz == pytest.approx(100.0)
    assert entry.menu == [s.name for s in MenuConfig().seeds]
    markdown = render_markdown([Entry.model_validate(entry.model_dump())])
    header, _, row = markdown.splitlines()[-4:-1]  # the table ends the page: header, rule, the entry's row
    cells = dict(zip(header.split(" | "), row.split(" | "), strict=True))
    lo, hi = clopper_pearson(3, 10, CL)
    assert cells["sig pure eff."] == f"0.300 [{lo:.3f}, {hi:.3f}]"
    assert cells["unique rate [kHz]"].startswith("150.00 [")
    assert "Reference menu: SingleMu22, SingleEG36er2p5," in markdown and "(its own rate 100.00 kHz)" in markdown


def test_board_of_an_older_schema_is_refused_with_how_to_regenerate_and_not_overwritten(tmp_path):
    from conftest import example_board

    from l1ad.leaderboards.board import Entry, read_board, submit

    old = example_board()
    old["schema"] = "l1ad-leaderboard/1"
    (tmp_path / "board.json").write_text(json.dumps(old))
    with pytest.raises(StageOutputError) as refused:
        read_board(tmp_path)
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'board.json'}: leaderboard of schema 'l1ad-leaderboard/1'")
    assert "reads l1ad-leaderboard/3; regenerate it: move it away" in message and "l1ad leaderboard" in message
    assert message.endswith("not overwriting it") and "\n" not in message
    before = (tmp_path / "board.json").read_bytes()
    with pytest.raises(StageOutputError, match="l1ad-leaderboard/1"):
        submit(tmp_path, Entry.model_validate(example_board()["entries"][0]))
    assert (tmp_path / "board.json").read_bytes() == before
