import json

import numpy as np
import pytest

from l1ad.firmware.hls import build_hls_model, compare, firmware_scores
from l1ad.models.neural import AutoencoderDetector

pytestmark = pytest.mark.slow


def test_report_and_project_on_disk(tiny_run):
    report = json.loads((tiny_run.paths.firmware / "firmware.json").read_text())
    assert "bit-accurate" in report["source"] and "not synthesized" in report["source"]
    assert "not available" in report["latency"]
    project = tiny_run.paths.firmware / "hls4ml_prj"
    assert (project / "firmware" / "l1ad_model.cpp").is_file()
    assert (project / "firmware" / "parameters.h").is_file()
    samples = {a["sample"] for a in report["agreement"]}
    assert samples == {"background_test", *tiny_run.cfg.dataset.signals}


def test_inferred_precision_is_bit_exact(tiny_run):
    """hls4ml infers exact accumulator widths for QKeras layers, so every score agrees bit for bit."""
    report = json.loads((tiny_run.paths.firmware / "firmware.json").read_text())
    assert report["hls4ml_config"]["LayerName"]["reconstruction"]["Precision"]["result"] == "auto"
    for a in report["agreement"]:
        assert a["max_abs_score_difference"] == 0.0
        assert all(v == 0 for v in a["decision_mismatch_events"].values())


def test_too_narrow_precision_is_caught(tmp_path, tiny_run, tiny_dataset):
    """The agreement check must be able to fail: truncate the output layer to 4 fractional bits."""
    detector = AutoencoderDetector.load(tiny_run.paths.model)
    narrow = tiny_run.cfg.firmware.model_copy(update={"layer_precision": {"reconstruction": "ap_fixed<10,6>"}})
    hls_model, _ = build_hls_model(detector, narrow, tmp_path / "prj")
    particles = tiny_dataset.background("test").particles[:1000]
    inputs = detector.network_inputs(particles)
    keras = detector.score_samples(particles)
    fw = firmware_scores(hls_model, detector, inputs)
    agreement = compare("background_test", keras, fw, {"median": float(np.median(keras))})
    assert agreement.max_abs_score_difference > 0
    assert agreement.identical_score_fraction < 0.5
    assert agreement.decision_mismatch_events["median"] > 0


def test_unknown_layer_in_precision_override(tmp_path, tiny_run):
    from l1ad.errors import L1adError

    detector = AutoencoderDetector.load(tiny_run.paths.model)
    bad = tiny_run.cfg.firmware.model_copy(update={"layer_precision": {"nope": "ap_fixed<8,4>"}})
    with pytest.raises(L1adError, match="no layer 'nope'"):
        build_hls_model(detector, bad, tmp_path / "prj")


def test_report_says_which_synthesis_tools_it_looked_for(tmp_path, monkeypatch):
    """Latency and resources are 'not available' only when no vendor tool is on PATH; the report says which."""
    from l1ad.firmware.hls import VENDOR_TOOLS, synthesis_availability

    monkeypatch.setenv("PATH", str(tmp_path))
    assert synthesis_availability().startswith("not available") and all(t in synthesis_availability() for t in VENDOR_TOOLS)
    tool = tmp_path / "vitis_hls"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    assert synthesis_availability().startswith("not measured: vitis_hls is on PATH")
