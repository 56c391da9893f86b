"""Fault injection on the firmware network: fault enumeration, bit flips, and the fast campaign against the naive one."""

from __future__ import annotations

import numpy as np
import pytest

from l1ad.firmware.faults.campaign import FaultCampaign
from l1ad.firmware.faults.sites import FaultSites, flip_bit
from l1ad.firmware.fixed import FixedType
from l1ad.firmware.network import BatchNormLayer, DenseLayer, FixedNetwork, InputLayer, QuantizeLayer, ReluLayer
from l1ad.firmware.scoring import with_score


def fixed(width, integer, signed=True, rounding="TRN", overflow="WRAP"):
    return FixedType(width=width, integer=integer, signed=signed, rounding=rounding, overflow=overflow)


def _dense(name, source, n_in, n_out, rng, *, accum=None, out=None, weight=None):
    weight = weight or fixed(6, 1)
    lo, hi = weight.mantissa_range
    return DenseLayer(name=name, input=source, weight=rng.integers(lo, hi + 1, (n_in, n_out)).tolist(),
                      weight_type=weight, bias=rng.integers(-32, 32, n_out).tolist(), bias_type=fixed(8, 2),
                      accum_type=accum or fixed(26, 10), type=out or fixed(16, 6))


def small_network(seed=0, *, accum=None, batchnorm=False, score="sum_squares", n_out=3) -> FixedNetwork:
    """input 8 -> dense 6 -> relu -> dense 5 -> relu -> dense ``n_out`` (-> quantize), with random weights."""
    rng = np.random.default_rng(seed)
    layers = [InputLayer(name="x", shape=[8], type=fixed(12, 6)),
              _dense("d1", "x", 8, 6, rng, accum=accum), ReluLayer(name="r1", input="d1", type=fixed(10, 5, False))]
    source = "r1"
    if batchnorm:
        layers.append(BatchNormLayer(name="bn", input="r1", scale=rng.integers(-16, 16, 6).tolist(),
                                     scale_type=fixed(6, 2), bias=rng.integers(-16, 16, 6).tolist(),
                                     bias_type=fixed(6, 2), type=fixed(14, 6)))
        source = "bn"
    layers += [_dense("d2", source, 6, 5, rng, accum=accum), ReluLayer(name="r2", input="d2", type=fixed(10, 5, False)),
               _dense("d3", "r2", 5, n_out, rng), QuantizeLayer(name="q3", input="d3", type=fixed(10, 5, rounding="RND",
                                                                                            overflow="SAT"))]
    network = FixedNetwork(model="small", layers=layers, outputs=["q3"], source="test")
    if score == "masked_mse":  # the 8 inputs as 4 objects of 2 values (an object with both zero is absent)
        scored = with_score(network, score)
        return scored.model_copy(update={"layers": [*scored.layers[:-1], scored.layers[-1].model_copy(
            update={"features": 2})]})
    return with_score(network, score) if score else network


class DecodedSquaredError:
    """A software score of the ReconstructionScore form: sum_k c_k (x_k - decode_k(y_k))**2 over the first three
    inputs, with tanh-decoded values (scales 2 and 0.5) beside one taken as it is."""

    weights, scales = np.array([0.5, 1.0, 2.0]), np.array([0.0, 2.0, 0.5])

    def _residuals(self, raw, outputs):
        decoded = np.where(self.scales > 0, self.scales * np.tanh(outputs), outputs)
        return raw[:, :3] - decoded

    def __call__(self, raw, outputs):
        return (self.weights * np.square(self._residuals(raw, outputs))).sum(axis=1)

    def squared_error_terms(self, raw, outputs):
        c = np.broadcast_to(self.weights, outputs.shape)
        return c, np.abs(self._residuals(raw, outputs)), np.where(self.scales > 0, self.scales, 1.0)


def events(n=600, seed=1):
    x = np.random.default_rng(seed).normal(0, 6, (n, 8))
    x[x < -4] = 0.0  # zero inputs, as for absent objects
    return x


def test_sites_count_every_bit_of_every_parameter():
    network = small_network()
    sites = FaultSites(network)
    expected = (8 * 6 + 6 * 5 + 5 * 3) * 6 + (6 + 5 + 3) * 8
    assert sites.n_sites == expected
    table = sites.table()
    assert len(table) == expected and table.site.tolist() == list(range(expected))
    assert set(table.layer) == {"d1", "d2", "d3"} and set(table.parameter) == {"weight", "bias"}
    first = table.iloc[0]  # d1 weight (0, 0), bit position 0 = the sign bit of ap_fixed<6,1>
    assert (first.layer, first.parameter, first.element, first.bit_position, first.bit_value) == ("d1", "weight", 0, 0, -1.0)
    assert table.iloc[5].bit_value == 2.0**-5  # the LSB of ap_fixed<6,1>
    bias = table[(table.layer == "d1") & (table.parameter == "bias")]
    assert len(bias) == 6 * 8 and bias.site.min() == 8 * 6 * 6


def test_flip_bit_is_twos_complement():
    t = fixed(6, 1)
    assert flip_bit(0, t, 0) == -32  # the sign bit
    assert flip_bit(-32, t, 0) == 0
    assert flip_bit(5, t, 5) == 4 and flip_bit(-1, t, 5) == -2
    assert flip_bit(3, fixed(4, 4, signed=False), 0) == 11  # unsigned: the MSB adds 8
    values = np.arange(-32, 32)
    for position in range(6):
        assert np.array_equal(flip_bit(flip_bit(values, t, position), t, position), values)


def test_with_fault_changes_one_mantissa():
    network = small_network()
    sites = FaultSites(network)
    site = sites.table().query("layer == 'd2' and parameter == 'weight' and element == 7 and bit_position == 3").site.item()
    faulty = sites.with_fault(network, site)
    before, after = np.array(network.layer("d2").weight), np.array(faulty.layer("d2").weight)
    assert (before != after).sum() == 1 and before.ravel()[7] ^ after.ravel()[7] == 1 << 2
    assert network.layer("d1").weight == faulty.layer("d1").weight


@pytest.mark.parametrize(
    "kind",
    ["firmware score", "saturating accumulator", "batch normalization", "software score", "firmware masked mse",
     "software squared error"],
)
def test_fast_campaign_equals_the_naive_loop_on_every_fault(kind):
    options = {"firmware score": {}, "batch normalization": {"batchnorm": True},
               # a narrow saturating accumulator: large flips can overflow it, and then the firmware order matters
               "saturating accumulator": {"accum": fixed(22, 8, overflow="SAT")},
               "software score": {"score": None}, "software squared error": {"score": None},
               "firmware masked mse": {"score": "masked_mse", "n_out": 8}}[kind]
    network = small_network(**options)
    samples = {"background_test": events(700, 1), "signal": events(300, 2) + 2.0}
    score_function = None
    if kind == "software score":  # no squared-error form: nothing is skipped
        def score_function(raw, outputs):
            return np.tanh(outputs).sum(axis=1) + 0.01 * raw.sum(axis=1)
    elif kind == "software squared error":
        score_function = DecodedSquaredError()
    probe = FaultCampaign(network, samples, 0.0, score_function)
    nominal = probe.nominal_scores()["background_test"]
    threshold = float(np.quantile(nominal, 0.9))
    # several chunks per sample; the score change measured on the first 400 background events
    campaign = FaultCampaign(network, samples, threshold, score_function, chunk=256,
                             score_events={"background_test": 400})
    sites = np.arange(campaign.sites.n_sites)
    if kind == "saturating accumulator":  # d1 can overflow its accumulator: its faults take the firmware-order path
        exact = np.concatenate([g.exact for g in campaign._groups(sites) if hasattr(g, "exact")])
        assert exact.any() and not exact.all()
    fast, naive = campaign.run(sites), campaign.run_naive(sites)
    assert fast.equals(naive)
    assert (fast.score_changed > 0).any() and (fast.accepted != fast.nominal_accepted).any()  # faults that matter
    assert fast.nominal_accepted[0] == int((nominal > threshold).sum())
    assert fast.score_events.tolist() == [400, 0]
    unpruned = FaultCampaign(network, samples, threshold, score_function, chunk=256,
                             score_events={"background_test": 400}, prune=False).run(sites)
    assert unpruned.equals(fast)
    if kind != "software score":  # the bound skips pairs whose decision cannot change
        assert campaign.bound_target == "q3" and fast.pairs_run < unpruned.pairs_run
    else:
        assert campaign.bound_target is None and fast.pairs_run == unpruned.pairs_run


def test_score_bound_holds_and_lets_signed_weights_cancel():
    """The bound on the scored values after a change d of one ReLU output of d1: every exact change stays within
    alpha |d| + beta, also where saturating casts clip before signed weights mix their values, and signed weights make
    alpha tighter than absolute weights would (sums of opposite signs cancel)."""
    from l1ad.firmware.faults.campaign import _score_bound
    from l1ad.firmware.fixed import cast

    rng = np.random.default_rng(4)
    # saturating casts, none can wrap: every d1 neuron gets a bound; q2 clips often, and d3 mixes what it clipped
    layers = [InputLayer(name="x", shape=[8], type=fixed(12, 6)),
              _dense("d1", "x", 8, 6, rng, out=fixed(16, 6, overflow="SAT")),
              ReluLayer(name="r1", input="d1", type=fixed(10, 5, False, overflow="SAT")),
              _dense("d2", "r1", 6, 5, rng, out=fixed(16, 6, overflow="SAT")),
              QuantizeLayer(name="q2", input="d2", type=fixed(6, 2, rounding="RND", overflow="SAT")),
              _dense("d3", "q2", 5, 3, rng, out=fixed(16, 6, overflow="SAT")),
              QuantizeLayer(name="q3", input="d3", type=fixed(8, 3, rounding="RND", overflow="SAT"))]
    network = with_score(FixedNetwork(model="bound", layers=layers, outputs=["q3"], source="test"), "sum_squares")
    campaign = FaultCampaign(network, {"background_test": events(400, 5)}, 1.0)
    values = campaign.net.layer_values(campaign.samples["background_test"])
    start = campaign._index["d2"]
    d2, d3 = (np.ldexp(np.asarray(network.layer(n).weight, dtype=float), -5) for n in ("d2", "d3"))
    absolute = np.abs(d2) @ np.abs(d3)
    tighter, clipped = [], 0
    for column in range(6):
        alpha, beta = _score_bound(campaign, start, column)
        assert np.all(alpha <= absolute[column] + 1e-12)
        tighter.append(np.any(alpha < absolute[column] - 1e-12))
        for size in (0.25, 0.5, 1.0, 2.0, 4.0, 32.0):
            changed = values["r1"].copy()
            moved_to = np.clip(changed[:, column] + rng.uniform(-size, size, len(changed)), 0, 31)
            changed[:, column] = cast(moved_to, network.layer("r1").type)
            moved = campaign.net.resume({"x": values["x"], "d1": values["d1"], "r1": changed}, start)
            d = np.abs(changed[:, column] - values["r1"][:, column])
            assert np.all(np.abs(moved["q3"] - values["q3"]) <= alpha * d[:, None] + beta + 1e-12)
            clipped += int((np.abs(moved["d2"]) > 2).sum())
    assert any(tighter) and clipped > 0


def test_score_bound_widens_where_a_cast_clips_before_weights_of_both_signs_mix():
    """Two paths from one neuron that cancel (weights +1/2, +1/2 then +1/2, -1/2): signed weights alone would bound
    the change by 0, but the first path saturates in q2, so the change passes through the second one only."""
    from l1ad.firmware.faults.campaign import _score_bound

    def dense(name, source, weight, bias):
        return DenseLayer(name=name, input=source, weight=weight, weight_type=fixed(6, 1), bias=bias,
                          bias_type=fixed(8, 2), accum_type=fixed(26, 10), type=fixed(16, 6, overflow="SAT"))

    layers = [InputLayer(name="x", shape=[1], type=fixed(12, 6)), dense("d1", "x", [[16]], [0]),
              ReluLayer(name="r1", input="d1", type=fixed(10, 5, False, overflow="SAT")),
              dense("d2", "r1", [[16, 16]], [60, 0]),  # unit 0 = r1 / 2 + 1.875: beyond q2's 1.9375 from r1 = 0.5 on
              QuantizeLayer(name="q2", input="d2", type=fixed(6, 2, overflow="SAT")),
              dense("d3", "q2", [[16], [-16]], [0]),
              QuantizeLayer(name="q3", input="d3", type=fixed(10, 5, overflow="SAT"))]
    network = with_score(FixedNetwork(model="clip", layers=layers, outputs=["q3"], source="test"), "sum_squares")
    x = np.array([[1.0], [4.0]])  # r1 = 0.5 and 2: q2's unit 0 saturated, and it stays so when r1 grows
    campaign = FaultCampaign(network, {"background_test": x}, 1.0)
    alpha, beta = _score_bound(campaign, campaign._index["d2"], 0)
    assert alpha[0] == pytest.approx(0.25)  # half the absolute weights' 0.5, and not 0
    values = campaign.net.layer_values(x)
    moved = campaign.net.resume({"x": x, "d1": values["d1"], "r1": values["r1"] + 2.0}, campaign._index["d2"])
    change = np.abs(moved["q3"] - values["q3"])[:, 0]
    assert change.max() > 0.4 and np.all(change <= alpha[0] * 2.0 + beta[0])


@pytest.mark.parametrize("decoded", [True, False])
def test_reconstruction_score_terms_give_the_score_and_bound_its_change(decoded):
    """The form the bound relies on: the score is sum c r**2, and a change of the outputs by at most d moves each
    residual by at most L d."""
    from l1ad.models.autoencoder import DEFAULT_ANGLE_SCALES, N_INPUTS, ReconstructionScore

    rng = np.random.default_rng(3)
    x = rng.normal(0, 2, (200, N_INPUTS))
    x[:, 30:] = 0.0  # absent objects
    y = rng.normal(0, 1, x.shape)
    score = ReconstructionScore(DEFAULT_ANGLE_SCALES if decoded else None)
    c, r, lipschitz = score.squared_error_terms(x, y)
    np.testing.assert_allclose((c * r**2).sum(axis=1), score(x, y), rtol=1e-12)
    d = rng.uniform(-0.3, 0.3, y.shape)
    moved = score.squared_error_terms(x, y + d)[1]
    assert np.all(np.abs(moved - r) <= lipschitz * np.abs(d) + 1e-12)
    assert (lipschitz > 1).any() == decoded  # the eta/phi scales of tanh-decoded angles


def test_sample_size_follows_the_margin_and_the_population():
    from l1ad.firmware.faults.report import sample_size

    assert sample_size(10**9, 0.01, 0.95) == 9604  # 1.96**2 / 4 / 0.01**2, rounded up
    assert sample_size(15120, 0.01, 0.95) == 5874  # finite-population correction
    assert sample_size(100, 0.01, 0.95) == 99 and sample_size(3, 0.01, 0.95) == 3


def test_classes_follow_their_stated_thresholds():
    from l1ad.config import FaultsConfig
    from l1ad.firmware.faults.campaign import CampaignResult
    from l1ad.firmware.faults.report import fault_table

    network = small_network()
    sites = FaultSites(network)
    # nominal: 10 of 1000 background events, 50 of 100 signal events; five made-up faults
    accepted = np.array([[10, 50], [21, 50], [15, 50], [10, 40], [10, 20], [900, 100]])
    result = CampaignResult(sites=np.arange(6), samples=["background_test", "sig"], n_events=np.array([1000, 100]),
                            score_events=np.array([10, 0]), nominal_accepted=np.array([10, 50]), accepted=accepted,
                            score_changed=np.zeros((6, 2), dtype=np.int64), abs_score_change_sum=np.zeros((6, 2)),
                            max_abs_score_change=np.zeros((6, 2)))
    cfg = FaultsConfig(rate_budget_khz=5000.0)
    table = fault_table(result, sites, background="background_test", collision_rate_mhz=28.61, cfg=cfg)
    # 2.1x rate: catastrophic; 1.5x: degrading; -10 % points of efficiency: degrading; -60 % of it: catastrophic
    assert table.fault_class.tolist() == ["harmless", "catastrophic", "degrading", "degrading", "catastrophic",
                                          "catastrophic"]
    assert table.breaks_rate_budget.tolist() == [False, True, False, False, False, True]
    assert table.rate_khz.iloc[5] == pytest.approx(900 / 1000 * 28610)
    tight = fault_table(result, sites, background="background_test", collision_rate_mhz=28.61,
                        cfg=FaultsConfig(rate_budget_khz=400.0))  # 15/1000 of 28.61 MHz = 429 kHz > 400
    assert tight.breaks_rate_budget.tolist() == [False, True, True, False, False, True]


@pytest.mark.slow
def test_cli_campaign_writes_a_report_and_resumes(tiny_run, run_cli, tmp_path):
    import json
    import shutil

    import pandas as pd

    from l1ad.firmware.faults.report import read_fault_report

    root = tiny_run.paths.root
    code, _, err = run_cli("-q", "faults", "-c", "tiny", "-o", root)
    assert code == 0, err
    directory = root / "faults" / tiny_run.cfg.model.run_label
    report = read_fault_report(directory)
    table = pd.read_csv(directory / "faults.csv")
    assert report.campaign == "sampled" and len(table) == report.n_faults < report.n_sites
    assert sum(s.n_faults for s in report.shares) == report.n_faults
    assert all(s.share_lo <= s.share <= s.share_hi for s in report.shares)
    assert report.nominal.background_events == 2000 and set(report.nominal.efficiencies) == set(
        tiny_run.cfg.dataset.signals)
    assert (directory / "sensitivity.png").stat().st_size > 0 and (directory / "rate_blowup.png").stat().st_size > 0
    # the tiny dense AE's score is computed in software (tanh decoding): no surrogate, and the report says why
    assert not report.rankings and report.ranking_note.startswith("no rankings: the surrogate needs a firmware")
    # interrupted after two shards: the rerun reuses them and gives the same outcomes
    shards = sorted((directory / "shards").glob("shard_*.npz"))
    assert len(shards) == -(-report.n_faults // 100)
    for extra in shards[2:]:
        extra.unlink()
    shards[1].write_bytes(shards[1].read_bytes()[:100])  # one cut off mid-write
    code, out, err = run_cli("faults", "-c", "tiny", "-o", root)
    assert code == 0, err
    assert f"1 of {len(shards)} shards reused" in out + err  # the cut-off one is computed again
    again = pd.read_csv(directory / "faults.csv")
    pd.testing.assert_frame_equal(table, again)
    assert json.loads((directory / "fault_report.json").read_text())["shares"] == [
        s.model_dump() for s in report.shares]
    # the leaderboard shows the share that breaks the rate budget
    code, _, err = run_cli("-q", "leaderboard", "-c", "tiny", "-o", root, "--board", tmp_path / "board")
    assert code == 0, err
    entry = json.loads((tmp_path / "board" / "board.json").read_text())["entries"][0]
    assert entry["faults"]["rate_budget_broken"] == report.rate_budget_broken.share
    assert entry["faults"]["campaign"] == "sampled" and entry["faults"]["n_faults"] == report.n_faults
    assert f"{report.rate_budget_broken.share:.2%} [" in (tmp_path / "board" / "LEADERBOARD.md").read_text()
    # bad input: one line each
    code, _, err = run_cli("faults", "-c", "tiny", "-o", root, "--models", "nope")
    assert code == 2 and "no bench model 'nope'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("faults", "-c", "tiny", "-o", tmp_path / "empty")
    assert code == 2 and "l1ad firmware" in err and len(err.strip().splitlines()) == 1
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts", "faults"))
    (copy / "firmware" / tiny_run.cfg.model.run_label / "network.json").write_text("{}")
    code, _, err = run_cli("faults", "-c", "tiny", "-o", copy)
    assert code == 2 and "network.json" in err and len(err.strip().splitlines()) == 1


def test_a_model_without_a_fixed_point_network_is_refused():
    from l1ad.firmware.faults.run import FaultCampaignError, nominal_working_point
    from l1ad.firmware.hls import not_convertible_report

    report = not_convertible_report("gmm", "a Gaussian mixture has no layers to convert")
    with pytest.raises(FaultCampaignError, match="model 'gmm' has no fixed-point network to fault: .*Gaussian mixture"):
        nominal_working_point(report)


def test_surrogate_gradient_and_hessian_match_finite_differences():
    from l1ad.firmware.faults.ranking import Surrogate, _flat, _unflat

    surrogate = Surrogate(small_network())
    x = events(200)
    rng = np.random.default_rng(3)
    # quantized weights put some pre-activations exactly at a ReLU's kink (a zero bias on a zero input): move the
    # point off the kinks, where the derivatives exist
    surrogate.params = params = [p + rng.normal(0, 1e-3, p.shape) for p in surrogate.params]

    def loss(p):
        h = x
        for kind, index in surrogate.steps[:-1]:
            h = h @ p[index] + p[index + 1] if kind == "dense" else np.maximum(h, 0.0)
        return (h**2).sum(axis=1).mean()

    flat = _flat(params)
    g = _flat(surrogate.gradient(params, x))
    for i in rng.choice(len(flat), 8, replace=False):
        step = np.zeros_like(flat)
        step[i] = 1e-6
        numeric = (loss(_unflat(flat + step, params)) - loss(_unflat(flat - step, params))) / 2e-6
        assert g[i] == pytest.approx(numeric, rel=1e-4, abs=1e-6)
    v = rng.normal(size=len(flat))
    hv = _flat(surrogate.hessian_vector(x, _unflat(v, params)))
    step = 1e-7  # small enough that no ReLU changes state: the gradient is then linear along v
    numeric = (_flat(surrogate.gradient(_unflat(flat + step * v, params), x))
               - _flat(surrogate.gradient(_unflat(flat - step * v, params), x))) / (2 * step)
    assert np.allclose(hv, numeric, rtol=1e-4, atol=1e-6 * np.abs(hv).max())
    u = rng.normal(size=len(flat))  # and it is symmetric: u.Hv == v.Hu
    assert u @ hv == pytest.approx(v @ _flat(surrogate.hessian_vector(x, _unflat(u, params))), rel=1e-9)


def test_ranking_scores_against_oracle_and_random():
    from l1ad.firmware.faults.ranking import score_ranking

    harmful = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    perfect = score_ranking("perfect", -np.arange(10.0), harmful)
    assert perfect.recall_at_n_catastrophic == 1.0 and perfect.normalized_area == pytest.approx(1.0)
    worst = score_ranking("worst", np.arange(10.0), harmful)
    assert worst.recall_at_n_catastrophic == 0.0 and worst.normalized_area < 0
    half = score_ranking("half", np.array([9, 1.5, 8, 1, 1, 1, 1, 1, 1, 1.0]), harmful)  # caught 1st and 3rd
    assert half.recall_at_n_catastrophic == 0.5 and 0 < half.normalized_area < 1
    assert half.curve_caught[-1] == 1.0 and half.curve_k[-1] == 10


def test_protection_counts_removed_faults_and_their_cost():
    import pandas as pd

    from l1ad.config.parts import find_part
    from l1ad.firmware.faults.report import protection_points

    classes = ["catastrophic"] * 10 + ["harmless"] * 90
    table = pd.DataFrame({"fault_class": classes})
    score = np.r_[np.zeros(10), np.arange(1, 91.0)]  # a ranking that puts every catastrophic fault last
    points = {(p.ranking, p.bits): p for p in protection_points(table, {"backwards": score}, find_part("VU13P"))}
    assert points[("oracle", 10)].catastrophic_removed == 1.0 and points[("oracle", 1)].catastrophic_removed == 0.1
    assert points[("backwards", 20)].catastrophic_removed == 0.0
    assert points[("backwards", 10)].added_ff == 20 and points[("backwards", 10)].added_lut == 10
    assert points[("oracle", 20)].added_lut_percent == pytest.approx(100 * 20 / 1_728_000)


@pytest.mark.slow
def test_shards_on_dask_workers_give_the_same_campaign(tmp_path):
    from l1ad.benchmark.datasets.parallel import Execution
    from l1ad.firmware.faults.shards import run_in_shards

    network = small_network()
    campaign = FaultCampaign(network, {"background_test": events(500)}, 1.0, score_events={"background_test": 100})
    sites = np.arange(campaign.sites.n_sites)
    local = campaign.run(sites)
    sharded = run_in_shards(campaign, sites, tmp_path, 200, execution=Execution(workers=2))
    assert sharded.equals(local) and len(list((tmp_path / "shards").glob("shard_*.npz"))) == 4
