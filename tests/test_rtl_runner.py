"""The main environment's side of the RTL path: ``run_rtl`` through the real RTL environment (``tox -e rtl`` creates
it; tox exports its python as L1AD_RTL_PYTHON). Without that environment these tests skip, saying so."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

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
from l1ad.firmware.rtl_report import RTLError
from l1ad.firmware.rtl_runner import RTL_PYTHON_VARIABLE, run_rtl

INPUT = FixedType(width=16, integer=8, rounding="RND_CONV", overflow="SAT")


def _rtl_environment() -> str:
    value = os.environ.get(RTL_PYTHON_VARIABLE)
    if not value:
        pytest.skip(f"{RTL_PYTHON_VARIABLE} is not set: no RTL environment (python3.11 -m tox -e rtl creates it)")
    if not Path(value).is_file():
        pytest.skip(f"{RTL_PYTHON_VARIABLE}={value} does not exist: run python3.11 -m tox -e rtl first")
    return value


def _network(model: str = "runner_net") -> FixedNetwork:
    rng = np.random.default_rng(3)
    wt = FixedType(width=6, integer=1)
    acc = FixedType(width=30, integer=16)
    relu = FixedType(width=10, integer=5, signed=False, rounding="RND_CONV", overflow="SAT")
    layers = [
        InputLayer(name="inputs", shape=[9], type=INPUT),
        DenseLayer(name="dense", input="inputs", weight=rng.integers(-32, 32, (9, 4)).tolist(), weight_type=wt,
                   bias=rng.integers(-32, 32, 4).tolist(), bias_type=wt, accum_type=acc, type=acc),
        ReluLayer(name="relu", input="dense", type=relu),
        SumSquaresScore(name="score", input="relu", type=FixedType(width=40, integer=20)),
    ]
    return FixedNetwork(model=model, layers=layers, outputs=["relu"], score="score", source="test")


def _inputs(n: int) -> np.ndarray:
    rng = np.random.default_rng(4)
    x = np.round(rng.normal(0, 20, (n, 9)) * 256) / 256
    x[rng.random(x.shape) < 0.3] = 0
    return x


@pytest.mark.slow
def test_run_rtl_through_the_rtl_environment(tmp_path):
    """10k events: the Verilog simulated by Verilator equals the emulator (computed here, numpy < 2, and again
    there, numpy >= 2), and yosys' counts come back typed."""
    _rtl_environment()
    directory = tmp_path / "firmware" / "rtl"
    report = run_rtl(_network(), _inputs(10_000), directory, clock_period_ns=1000 / 240, part="VU13P")
    a = report.agreement
    assert (a.events, a.mismatching_events, a.identical_fraction) == (10_000, 0, 1.0)
    assert a.score_compared and a.emulators_agree is True
    assert report.model == "runner_net" and report.part == "xcvu13p-flga2577-2-e"
    assert report.resources.lut > 0 and report.resources.ff > 0 and report.resources.dsp == 0
    assert report.latency_ns == pytest.approx(report.latency_cycles / 0.24, rel=1e-6)
    assert (directory / "rtl.json").is_file() and (directory / "network.json").is_file()
    assert sorted(p.name for p in directory.parent.iterdir()) == ["rtl"]  # no staging directory left behind


def test_missing_rtl_environment_is_one_line(tmp_path, monkeypatch):
    for value in (None, str(tmp_path / "no" / "python")):
        if value is None:
            monkeypatch.delenv(RTL_PYTHON_VARIABLE, raising=False)
        else:
            monkeypatch.setenv(RTL_PYTHON_VARIABLE, value)
        with pytest.raises(RTLError) as err:
            run_rtl(_network(), _inputs(10), tmp_path / "rtl")
        assert "\n" not in str(err.value) and RTL_PYTHON_VARIABLE in str(err.value) and "tox -e rtl" in str(err.value)
    assert not (tmp_path / "rtl").exists()


def test_unsupported_layer_leaves_existing_output_alone(tmp_path):
    """A layer with no exact rule (refused by the emulator before the RTL environment starts): one line naming the
    model and the layer; an existing directory is untouched."""
    _rtl_environment()
    directory = tmp_path / "rtl"
    directory.mkdir()
    (directory / "rtl.json").write_text("earlier result")
    layers = [InputLayer(name="inputs", shape=[6], type=INPUT),
              ReshapeLayer(name="image", input="inputs", shape=[2, 1, 3]),
              ConcatenateLayer(name="joined", inputs=["image", "image"], type=INPUT)]
    network = FixedNetwork(model="image_concat", layers=layers, outputs=["joined"], source="test")
    with pytest.raises(RTLError) as err:
        run_rtl(network, _inputs(10)[:, :6], directory)
    message = str(err.value)
    assert "\n" not in message and "image_concat" in message and "joined" in message
    assert [p.name for p in tmp_path.iterdir()] == ["rtl"]
    assert (directory / "rtl.json").read_text() == "earlier result"


def test_time_out_ends_the_tools_and_keeps_existing_output(tmp_path):
    _rtl_environment()
    directory = tmp_path / "rtl"
    directory.mkdir()
    (directory / "rtl.json").write_text("earlier result")
    with pytest.raises(RTLError) as err:
        run_rtl(_network("slow_net"), _inputs(100), directory, timeout_s=3)
    assert "slow_net" in str(err.value) and "within 3 s" in str(err.value)
    assert [p.name for p in tmp_path.iterdir()] == ["rtl"]
    assert (directory / "rtl.json").read_text() == "earlier result"
