"""The reference L1 menu on hand-made events: each seed's decision and the menu rate, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from l1ad.benchmark.trigger.menu import menu_decisions, menu_rates, seed_fires
from l1ad.config.menu import MenuConfig, Seed

MET, EG, MU, JET = 0, 1, 5, 9  # first slot of each object class in the ADC2021 layout


def _events(n: int) -> np.ndarray:
    return np.zeros((n, 19, 4), dtype=np.float32)


def test_single_and_double_object_seeds():
    x = _events(6)
    x[0, MU] = (25, 0.1, 0, 3)  # SingleMu22
    x[1, MU] = (20, 0.1, 0, 3)  # below 22
    x[2, MU], x[2, MU + 1] = (16, 1.0, 0, 3), (8, -1.0, 1, 3)  # DoubleMu15_7 only
    x[3, EG] = (40, 2.7, 0, 2)  # EG36 but outside |eta| < 2.5
    x[4, EG], x[4, EG + 1] = (30, 0.5, 0, 2), (26, 2.6, 0, 2)  # DoubleEG25_12er2p5: the second is outside 2.5 ...
    x[4, EG + 2] = (13, -2.0, 0, 2)  # ... but the third, inside, passes 12
    x[5, MET] = (95, 0, 1, 1)  # ETM90
    menu = {s.name: s for s in MenuConfig().seeds}
    assert seed_fires(x, menu["SingleMu22"]).tolist() == [True, False, False, False, False, False]
    assert seed_fires(x, menu["DoubleMu15_7"]).tolist() == [False, False, True, False, False, False]
    assert seed_fires(x, menu["SingleEG36er2p5"]).tolist() == [False] * 6
    assert seed_fires(x, menu["DoubleEG25_12er2p5"]).tolist() == [False, False, False, False, True, False]
    assert seed_fires(x, menu["ETM90"]).tolist() == [False] * 5 + [True]


def test_ht_sums_central_jets_above_30_gev():
    x = _events(3)
    x[0, JET : JET + 3] = [(200, 0.0, 0, 4), (150, 1.0, 1, 4), (29, 0.0, 2, 4)]  # 350: below 360 (29 GeV not summed)
    x[1, JET : JET + 3] = [(200, 0.0, 0, 4), (150, 1.0, 1, 4), (31, 0.0, 2, 4)]  # 381
    x[2, JET : JET + 2] = [(300, 0.0, 0, 4), (100, 3.0, 1, 4)]  # 300 central: the forward jet is not summed
    seed = next(s for s in MenuConfig().seeds if s.name == "HTT360er")
    assert seed_fires(x, seed).tolist() == [False, True, False]
    assert seed_fires(x, next(s for s in MenuConfig().seeds if s.name == "SingleJet180")).tolist() == [True] * 3


def test_menu_rate_is_the_or_of_its_seeds_times_the_collision_rate():
    x = _events(1000)
    x[:10, MU] = (30, 0, 0, 3)
    x[5:25, MET] = (100, 0, 0, 1)
    decisions = menu_decisions(x, MenuConfig())
    assert decisions["menu"].sum() == 25
    rates = {r.seed: r for r in menu_rates(x, MenuConfig(), collision_rate_mhz=28.61)}
    assert rates["menu"].rate_khz == pytest.approx(25 / 1000 * 28610)
    lo, hi = rates["SingleMu22"].rate_interval_khz
    assert lo < rates["SingleMu22"].rate_khz < hi
    assert rates["SingleEG36er2p5"].n_accepted == 0 and rates["SingleEG36er2p5"].rate_interval_khz[0] == 0


def test_seed_definitions_are_checked():
    with pytest.raises(ValidationError, match="leading object first"):
        Seed(name="DoubleMu", kind="muon", thresholds_gev=[5.0, 10.0])
    with pytest.raises(ValidationError, match="one threshold"):
        Seed(name="HT", kind="ht", thresholds_gev=[100.0, 50.0])
    with pytest.raises(ValidationError, match="distinct names"):
        MenuConfig(seeds=[Seed(name="A", kind="met", thresholds_gev=[1.0])] * 2)


@pytest.mark.slow
def test_inspect_prints_the_menu_rates_of_a_zero_bias_dataset(tiny_dataset, run_cli):
    code, out, err = run_cli("data", "inspect", tiny_dataset.directory)
    assert code == 0, err
    table = out.split("reference L1 menu on background_test")[1].splitlines()
    names = [line.split()[0] for line in table[1:] if line.strip()]
    assert names == [s.name for s in MenuConfig().seeds] + ["menu"]
