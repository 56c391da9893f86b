"""Fit the Level-1 jet energy calibration to particle-level jets, reproducibly (seeded), and print it as YAML.

    python scripts/fit_jet_calibration.py [--events 3000] [--seed 1] [--workers 2] [--check-events 1000] [--write]

The calibration sample: QCD 2 -> 2 (Pythia HardQCD:all) in six pT-hat ranges from 15 GeV to 1 TeV, ``--events``
crossings each, overlaid with the pile-up of the ``--dataset`` (default zb: mu = 60, soft pool below pT-hat 30 GeV and
fresh hard pile-up above, decays in flight), on a pool of its own. Level-1 jets are emulated without calibration and
with the minimum pT lowered to 5 GeV (so the threshold does not cut into the response of 20 GeV jets), and matched to
isolated anti-kT 0.4 particle-level jets of the hard interaction (DeltaR < 0.3; no other particle-level jet above
10 GeV within 0.8). In bins of Level-1 |eta| and particle-level pT the median response (L1 pT / particle-level pT)
and the median L1 pT are measured; the correction at that L1 pT is 1 / median response (numerical inversion). Per
|eta| bin these points are fitted with a cubic polynomial in ln(L1 pT) (weighted by their 68 % intervals), evaluated
at fixed L1 pT points and held constant beyond the measured ones.

``--check-events`` (per range, 0 to skip) then measures the response on an independent sample (seed + 1000), on the
same crossings uncalibrated and with the new calibration (minimum pT 5 GeV as in the fit: the dataset's 20 GeV
minimum keeps only upward fluctuations of jets below ~40 GeV, which biases their median response up). The calibrated jets of the check are the stated resolution written beside the factors (median response and half
the 16-84 % interval per |eta| and particle-level pT bin; particle-level jets from 15 GeV). ``--write`` writes the table to
``src/l1ad/configs/emulation/jet_calibration.yaml``, the emulation's default; bump the versions of the datasets it changes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from l1ad.benchmark.datasets.calibration import calibration_sample
from l1ad.benchmark.datasets.parallel import Execution
from l1ad.benchmark.trigger.calibration import (
    ISOLATION_DR,
    ISOLATION_MIN_PT_GEV,
    MATCH_DR,
    MatchedJets,
    fit_calibration,
    measure_resolution,
    median_interval,
    response_bins,
)
from l1ad.config import dataset_definition

PTHAT_RANGES = [(15.0, 30.0), (30.0, 60.0), (60.0, 120.0), (120.0, 240.0), (240.0, 480.0), (480.0, 1000.0)]
ABS_ETA_EDGES = [0.0, 0.87, 1.74, 2.5, 3.0, 4.0]  # tower edges: barrel in two, endcap in two, forward to |eta| 4
GEN_PT_EDGES = [20, 25, 30, 35, 40, 50, 60, 70, 85, 100, 120, 150, 190, 240, 300, 400, 500, 650, 850]
PT_POINTS_GEV = [15, 20, 25, 30, 35, 40, 50, 60, 70, 85, 100, 120, 150, 190, 240, 300, 400, 500, 650]
CHECK_PT_EDGES = [20, 30, 40, 60, 100, 200, 400, 850]
RESOLUTION_PT_EDGES = [15, 20, 25, 30, 35, 40, 50, 60, 70, 85, 100, 120, 150, 190, 240, 300, 400, 500, 650, 850]
FIT_MIN_PT_GEV = 5.0  # Level-1 jet minimum pT while fitting
MIN_JETS = 40  # matched jets a (|eta|, pT) bin needs to enter the fit
OUTPUT = Path(__file__).resolve().parents[1] / "src" / "l1ad" / "configs" / "emulation" / "jet_calibration.yaml"


def _method(args, n_events: int) -> str:
    ranges = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in PTHAT_RANGES)
    return (f"approximate; fitted by scripts/fit_jet_calibration.py (seed {args.seed}, {n_events} crossings per pT-hat "
            f"range): Pythia QCD 2->2 in pT-hat ranges {ranges} GeV with the {args.dataset} pile-up; uncalibrated L1 "
            f"jets (minimum pT {FIT_MIN_PT_GEV:g} GeV) matched to isolated anti-kT 0.4 particle-level jets of the hard "
            f"interaction (DeltaR < {MATCH_DR:g}, no other particle-level jet above {ISOLATION_MIN_PT_GEV:g} GeV within "
            f"{ISOLATION_DR:g}); median response in bins of particle-level pT per L1 |eta| bin, inverted at the median "
            "L1 pT, 1 / response fitted with a cubic in ln(L1 pT)")


def _resolution_method(args) -> str:
    return (f"approximate; measured by scripts/fit_jet_calibration.py on its check sample (seed {args.seed + 1000}, "
            f"{args.check_events} crossings per pT-hat range, the same pile-up): calibrated L1 jets (minimum pT "
            f"{FIT_MIN_PT_GEV:g} GeV) matched to isolated particle-level jets above {RESOLUTION_PT_EDGES[0]:g} GeV as in "
            "the fit; per L1 |eta| bin and particle-level pT bin the median of L1 / particle-level pT and half its "
            "16-84 % interval, at the bin's median particle-level pT")


def _print_bins(title: str, matched: MatchedJets, edges=ABS_ETA_EDGES, pt_edges=GEN_PT_EDGES) -> None:
    print(f"\n{title}: {len(matched)} matched of {matched.n_candidates} isolated particle-level jets; median response "
          "(68 % interval of the median) per L1 |eta| bin and particle-level pT bin [GeV]")
    for b in response_bins(matched, edges, pt_edges, MIN_JETS):
        print(f"  |eta| {b.abs_eta_lo:4.2f}-{b.abs_eta_hi:4.2f}  pT {b.gen_pt_lo:4g}-{b.gen_pt_hi:<4g}  n {b.n:5d}  "
              f"median L1 pT {b.median_l1_pt:6.1f}  response {b.response:.3f} [{b.response_lo:.3f}, {b.response_hi:.3f}]")


def _summary(label: str, matched: MatchedJets) -> None:
    for lo, hi in ((20, 40), (40, 100), (100, 1000), (20, 1000)):
        inside = (matched.gen_pt >= lo) & (matched.gen_pt < hi)
        r, r_lo, r_hi = median_interval(matched.response[inside])
        print(f"  {label:13s} particle-level pT {lo:4d}-{hi:<4d}: median response {r:.3f} [{r_lo:.3f}, {r_hi:.3f}] "
              f"({int(inside.sum())} jets)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="zb", help="standard dataset whose pile-up and emulation are used")
    parser.add_argument("--events", type=int, default=3000, help="crossings per pT-hat range")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=Execution.default().workers)
    parser.add_argument("--check-events", type=int, default=1000, help="crossings per range of the check (0: none)")
    parser.add_argument("--write", action="store_true", help=f"write the table to {OUTPUT.relative_to(OUTPUT.parents[4])}")
    args = parser.parse_args()

    dataset = dataset_definition(args.dataset).resolve("default")
    execution = Execution(workers=args.workers)
    raw = dataset.emulation.model_copy(update={"jet_calibration": None, "jet_min_pt_gev": FIT_MIN_PT_GEV})
    started = time.time()
    matched = calibration_sample(dataset, PTHAT_RANGES, args.events, args.seed, {"fit": raw}, execution=execution)["fit"]
    print(f"calibration sample: {args.events} crossings x {len(PTHAT_RANGES)} pT-hat ranges, mu = {dataset.pileup_mu:g}, "
          f"{time.time() - started:.0f} s on {max(1, args.workers)} worker(s)")
    _print_bins("fit sample, uncalibrated", matched)
    bins = response_bins(matched, ABS_ETA_EDGES, GEN_PT_EDGES, MIN_JETS)
    calibration = fit_calibration(bins, ABS_ETA_EDGES, PT_POINTS_GEV, _method(args, args.events))

    if args.check_events:
        started = time.time()
        calibrated = raw.model_copy(update={"jet_calibration": calibration})
        check = calibration_sample(dataset, PTHAT_RANGES, args.check_events, args.seed + 1000,
                                   {"uncalibrated": raw, "calibrated": calibrated}, min_gen_pt=RESOLUTION_PT_EDGES[0],
                                   execution=execution)
        print(f"\ncheck on an independent sample (seed {args.seed + 1000}, {args.check_events} crossings per range, "
              f"jet minimum pT {FIT_MIN_PT_GEV:g} GeV; {time.time() - started:.0f} s)")
        for label, m in check.items():
            _summary(label, m)
        for label, m in check.items():
            _print_bins(f"check sample, {label}", m, pt_edges=CHECK_PT_EDGES)
        resolution = measure_resolution(check["calibrated"], ABS_ETA_EDGES, RESOLUTION_PT_EDGES, MIN_JETS,
                                        _resolution_method(args))
        calibration = calibration.model_copy(update={"resolution": resolution})

    text = ("# Level-1 jet energy calibration (approximate), the emulation's default (EmulationConfig.jet_calibration).\n"
            "# Written by scripts/fit_jet_calibration.py; do not edit by hand, re-run the script.\n"
            + yaml.safe_dump(calibration.model_dump(), sort_keys=False, width=120, default_flow_style=None))
    print("\n" + text)
    if args.write:
        OUTPUT.write_text(text)
        print(f"written to {OUTPUT}")


if __name__ == "__main__":
    main()
