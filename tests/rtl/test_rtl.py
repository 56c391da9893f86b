"""The open-source RTL path (runs in the RTL environment, ``tox -e rtl``): real da4ml, Verilator and yosys.

Each Verilator build takes tens of seconds here, so one random "forest" network per seed checks many random layer
stacks, every rounding x overflow mode and a score at once, on 10,000 events each.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from random_networks import INPUT, events, forest

from l1ad.firmware import rtl
from l1ad.firmware.emulator import FixedPointNetwork
from l1ad.firmware.fixed import FixedType
from l1ad.firmware.network import (
    ConcatenateLayer,
    DenseLayer,
    FixedNetwork,
    InputLayer,
    ReluLayer,
    ReshapeLayer,
    SumSquaresScore,
)
from l1ad.firmware.rtl_report import RTLError, part, read_rtl_report, write_vectors

EVENTS = 10_000


@pytest.mark.parametrize("seed, score", [(1, "sum_squares"), (2, "masked_mse")])
def test_random_networks_rtl_identical_to_emulator(tmp_path, seed, score):
    """Random dense branches (random widths, TRN/WRAP exact and rounding/saturating narrow accumulators), an image
    branch (zero padding, conv2d, relu, average pooling by 3, up-sampling, batchnorm, concatenate), every
    rounding x overflow mode as quantize and relu layers, and a sum_squares or masked_mse score: the Verilator
    simulation equals the emulator on every output value of every event."""
    network = forest(seed, score=score)
    x = events(seed, EVENTS, 12)
    sim = rtl.simulate(network, x, tmp_path, log=lambda *_: None)
    a = sim.agreement
    assert a.events == EVENTS and a.score_compared
    assert a.mismatching_events == 0, a.first_mismatch
    assert a.identical_fraction == 1.0
    assert a.values_per_event == FixedPointNetwork(network).predict(x[:1]).shape[1] + 1
    assert int(sim.metadata["latency"]) >= 1
    # the vectors exercise what they should: saturation, zero (absent) objects, negative values
    assert (x > INPUT.max_abs).any() and (x == 0).any() and (x < 0).any()


def _small_network(relu: FixedType, model: str = "small") -> FixedNetwork:
    rng = np.random.default_rng(5)
    wt = FixedType(width=6, integer=1)
    acc = FixedType(width=30, integer=16)
    w = rng.integers(-32, 32, (6, 4))
    w[0] = 0  # a pruned input: no output reads it
    layers = [
        InputLayer(name="inputs", shape=[6], type=INPUT),
        DenseLayer(name="dense", input="inputs", weight=w.tolist(), weight_type=wt,
                   bias=rng.integers(-32, 32, 4).tolist(), bias_type=wt, accum_type=acc, type=acc),
        ReluLayer(name="relu", input="dense", type=relu),
        SumSquaresScore(name="score", input="relu", type=FixedType(width=40, integer=20)),
    ]
    return FixedNetwork(model=model, layers=layers, outputs=["relu"], score="score", source="test")


RELU = FixedType(width=10, integer=5, signed=False, rounding="RND_CONV", overflow="SAT")
WRONG_RELU = FixedType(width=10, integer=6, signed=False, rounding="RND_CONV", overflow="SAT")  # one bit less precise


@pytest.fixture(scope="module")
def wrong_precision_run(tmp_path_factory):
    """The entry point on a small network whose test vectors were computed with another relu precision."""
    base = tmp_path_factory.mktemp("wrong")
    right, wrong = _small_network(RELU), _small_network(WRONG_RELU)
    x = events(7, EVENTS, 6)
    reference = FixedPointNetwork(wrong)
    right.write(base / "network.json")
    write_vectors(base / "vectors.npz", x, reference.predict(x), reference.score(x))
    out = base / "out"
    run = subprocess.run([sys.executable, "-m", "l1ad.firmware.rtl", str(base / "network.json"),
                          str(base / "vectors.npz"), str(out), "--part", "VU9P"], capture_output=True, text=True)
    return run, out, x


def test_wrong_precision_is_detected(wrong_precision_run):
    """RTL built from a network whose relu keeps one fractional bit more than the network the expected values came
    from: the mismatch is reported (exit status 3, events counted, the first one named), and the report says that
    this environment's emulator does not compute the stored expectations either."""
    run, out, x = wrong_precision_run
    assert run.returncode == rtl.MISMATCH_EXIT, run.stderr
    report = read_rtl_report(out)
    a = report.agreement
    assert a.events == len(x) and 0 < a.mismatching_events < len(x)
    assert a.identical_fraction == pytest.approx(1 - a.mismatching_events / len(x))
    assert a.emulators_agree is False
    assert a.first_mismatch.startswith("event ")
    # what the report promises besides: latency from the stages, provenance labels, the chosen part
    assert report.latency_cycles == report.pipeline_stages >= 1
    assert report.latency_ns == pytest.approx(report.pipeline_stages * report.clock_period_ns)
    assert report.clock_period_ns == pytest.approx(1000 / 240)
    assert report.initiation_interval == 1
    assert report.part == "xcvu9p-flga2104-2L-e"
    assert report.resources.source == "yosys synth_xilinx (family xcup)"
    assert report.estimate.source == "da4ml estimate (not a synthesis result)"
    assert any("timing" in note and "not checked" in note for note in report.notes)
    assert report.tools["da4ml"] == "0.6.0"
    for name in report.verilog:
        assert (out / name).is_file()
    assert (out / "network.json").is_file() and (out / "vectors.npz").is_file()


def test_yosys_counts_parsed_from_a_real_run(wrong_precision_run):
    """The report's resources are yosys' own cell counts: LUT = LUT1..LUT6 and FF = FD* of the text ``stat`` yosys
    printed, every cell of the JSON statistics kept, percentages of the part."""
    _, out, _ = wrong_precision_run
    report = read_rtl_report(out)
    r = report.resources
    text = (out / "yosys_stat.txt").read_text()
    counts = {name: int(n) for n, name in re.findall(r"^\s+(\d+)\s+([A-Z][A-Z0-9_]+)\s*$", text, re.M)}
    assert r.lut == sum(n for name, n in counts.items() if re.fullmatch(r"LUT[1-6]", name)) > 0
    assert r.ff == sum(n for name, n in counts.items() if name.startswith("FD")) > 0
    assert r.carry4 == counts.get("CARRY4", 0) and r.dsp == counts.get("DSP48E2", 0) == 0  # squares in LUTs
    assert r.cells == rtl.parse_stat(json.loads((out / "yosys_stat.json").read_text()), report.top)
    vu9p = part("VU9P")
    assert r.percent_of_part["lut"] == pytest.approx(100 * (r.lut + r.lut_as_memory) / vu9p.lut, rel=1e-5)
    assert r.percent_of_part["ff"] == pytest.approx(100 * r.ff / vu9p.ff, rel=1e-5)
    assert "synth_xilinx -family xcup" in r.command


def test_resources_from_cells_by_hand():
    cells = {"LUT1": 1, "LUT2": 2, "LUT6": 3, "FDRE": 10, "FDSE": 1, "CARRY4": 4, "CARRY8": 1, "DSP48E2": 2,
             "RAMB36E2": 1, "RAMB18E2": 1, "SRL16E": 5, "BUFG": 1}
    r = rtl.resources_from_cells(cells, "VU13P", "synth")
    assert (r.lut, r.lut_as_memory, r.ff, r.carry4, r.carry8, r.dsp, r.bram36) == (6, 5, 11, 4, 1, 2, 1.5)
    assert r.percent_of_part["dsp"] == pytest.approx(100 * 2 / 12_288)
    assert r.percent_of_part["lut"] == pytest.approx(100 * 11 / 1_728_000)


def test_existing_output_survives_a_failed_run(wrong_precision_run, tmp_path):
    """Bad input ends with one line and exit 2 before anything is built, and an existing OUTDIR is left as it was."""
    _, out, _ = wrong_precision_run
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    bad = tmp_path / "network.json"
    data = json.loads((out / "network.json").read_text())
    data["layers"][1]["kind"] = "lstm"
    bad.write_text(json.dumps(data))
    run = subprocess.run([sys.executable, "-m", "l1ad.firmware.rtl", str(bad), str(out / "vectors.npz"), str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("l1ad: error: ") and "network.json" in run.stderr
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert not list(out.parent.glob(f".{out.name}.*"))


def test_unsupported_layer_is_one_line(tmp_path):
    """A layer the RTL path has no rule for (here a concatenation of images) is refused naming the model and layer."""
    layers = [InputLayer(name="inputs", shape=[6], type=INPUT),
              ReshapeLayer(name="image", input="inputs", shape=[2, 1, 3]),
              ConcatenateLayer(name="cat", inputs=["image", "image"], type=INPUT)]
    network = FixedNetwork(model="badnet", layers=layers, outputs=["cat"], source="test")
    with pytest.raises(RTLError) as err:
        rtl.build(network)
    message = str(err.value)
    assert "\n" not in message and "badnet" in message and "cat" in message


@pytest.mark.parametrize("problem", ["shape", "nan", "part", "clock", "cutoff"])
def test_bad_vectors_and_options(tmp_path, problem):
    network = _small_network(RELU)
    x = events(1, 20, 6)
    options = {}
    if problem == "shape":
        x = x[:, :5]
    elif problem == "nan":
        x[3, 2] = np.nan
    elif problem == "part":
        options["part_name"] = "xc7a35t"
    elif problem == "clock":
        options["clock_period_ns"] = 0.0
    else:
        options["latency_cutoff"] = -1.0
    with pytest.raises(RTLError) as err:
        if problem == "nan":
            write_vectors(tmp_path / "v.npz", x, x, None)
            from l1ad.firmware.rtl_report import read_vectors

            read_vectors(tmp_path / "v.npz")
        else:
            rtl.simulate(network, x, tmp_path, log=lambda *_: None, **options)
    assert "\n" not in str(err.value)
    assert not list(tmp_path.glob("src"))  # refused before any Verilog was written


def test_module_name_is_a_verilog_identifier():
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rtl.module_name("dense-ae.v2 (6 bit)"))


def test_missing_file_is_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "l1ad.firmware.rtl", str(tmp_path / "none.json"),
                          str(tmp_path / "none.npz"), str(tmp_path / "out")], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "none.json" in run.stderr
    assert not (tmp_path / "out").exists()
