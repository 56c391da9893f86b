import json

import numpy as np
import pytest

from l1ad.firmware.hls import build_hls_model, compare, firmware_scores
from l1ad.models.neural import AutoencoderDetector

pytestmark = pytest.mark.slow


def test_report_and_project_on_disk(tiny_run):
    report = json.loads((tiny_run.paths.firmware / "firmware.json").read_text())
    assert "bit-accurate" in report["source"] and "not synthesized" in report["source"]
    if report["rtl"] is not None:  # the RTL environment is installed (it is in CI): figures with their source
        assert "timing closure not checked by yosys" in report["latency"]
        assert "yosys synth_xilinx" in report["resources"] and report["firmware"]["part"] in report["resources"]
    else:
        assert report["latency"].startswith("not available")
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


def test_vendor_report_is_read_in_hls4ml_format(tiny_run, tmp_path):
    """A Vitis HLS C synthesis report (csynth.xml in the documented layout, in the project hls4ml wrote) is read
    with hls4ml.report and labelled as vendor figures; a project without one is a one-line error."""
    import shutil

    from l1ad.errors import L1adError
    from l1ad.firmware.vendor import read_vendor_report

    project = tmp_path / "prj"
    shutil.copytree(tiny_run.paths.firmware / "hls4ml_prj", project)
    with pytest.raises(L1adError, match=r"prj: no vendor C synthesis report \(csynth.xml\)"):
        read_vendor_report(project)
    solution = project / "l1ad_model_prj"
    (solution / "solution1" / "syn" / "report").mkdir(parents=True)
    (solution / "hls.app").write_text('<project><solutions><solution name="solution1"/></solutions></project>')
    (solution / "solution1" / "syn" / "report" / "l1ad_model_csynth.xml").write_text("""<profile>
  <UserAssignments><TargetClockPeriod>4.17</TargetClockPeriod></UserAssignments>
  <PerformanceEstimates>
    <SummaryOfTimingAnalysis><EstimatedClockPeriod>3.61</EstimatedClockPeriod></SummaryOfTimingAnalysis>
    <SummaryOfOverallLatency><Best-caseLatency>9</Best-caseLatency><Worst-caseLatency>9</Worst-caseLatency>
      <Interval-min>1</Interval-min><Interval-max>1</Interval-max></SummaryOfOverallLatency>
  </PerformanceEstimates>
  <AreaEstimates>
    <Resources><BRAM_18K>0</BRAM_18K><DSP>12</DSP><FF>3456</FF><LUT>23456</LUT><URAM>0</URAM></Resources>
    <AvailableResources><BRAM_18K>5376</BRAM_18K><DSP>12288</DSP><FF>3456000</FF><LUT>1728000</LUT><URAM>1280</URAM>
    </AvailableResources>
  </AreaEstimates>
</profile>""")
    vendor = read_vendor_report(project)
    assert (vendor.best_latency_cycles, vendor.interval_min, vendor.lut, vendor.ff, vendor.dsp, vendor.bram_18k) == (
        9, 1, 23456, 3456, 12, 0)
    assert vendor.estimated_clock_ns == 3.61 and vendor.source.startswith("vendor report")
