"""The ``jets`` standard dataset on disk: generation (sharded, on Dask), HDF5 files, loader and card.

Directory layout::

    dataset.json                       manifest (kind: jets), config, seeds, counts
    jets_<domain>_<split>.h5           Constituents (N, C, 3), Features (N, 16), Labels (N,), Kinematics (N, 4),
                                       FeatureNames, ClassNames
    resimulated.h5                     Constituents (J, K, C, 3), Features (J, K, 16), Kinematics (J, K, 4), Labels (J,):
                                       K re-hadronised copies of each of J parton-level events (nominal domain)
    CARD.md, card/*.png
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np

from l1ad import __version__
from l1ad.benchmark.datasets.build import cached_dataset, dataset_digest
from l1ad.benchmark.datasets.dataset import Dataset
from l1ad.benchmark.datasets.manifest import MANIFEST, DatasetManifest
from l1ad.benchmark.datasets.parallel import Execution, executor
from l1ad.benchmark.generation.pythia import pythia_seed
from l1ad.benchmark.jets import (
    FEATURE_NAMES,
    JET_CLASSES,
    JetSample,
    ResimulatedJets,
    generate_jets,
    resimulate,
)
from l1ad.benchmark.plotting import hep_pyplot
from l1ad.config import JetsDatasetConfig
from l1ad.errors import L1adError, first_line
from l1ad.files import replacing, write_json_model, write_text_atomic
from l1ad.progress import progress_bar

SPLITS = ("train", "validation", "test")
RESIMULATED = "resimulated"


@dataclass(frozen=True)
class JetJob:
    domain: str
    split: str  # or RESIMULATED
    jet_class: str
    index: int
    n_jets: int
    seed: int
    cfg: JetsDatasetConfig


def _run_job(job: JetJob, _shared=None) -> JetSample | ResimulatedJets:
    cfg = job.cfg
    common = {"domain": job.domain, "sqrt_s_tev": cfg.sqrt_s_tev, "pt_min": cfg.pt_min_gev, "pt_max": cfg.pt_max_gev,
              "n_constituents": cfg.n_constituents}
    seed = pythia_seed(job.seed, cfg.name, job.domain, job.split, job.index)
    if job.split == RESIMULATED:
        return resimulate(job.n_jets, cfg.resimulation.copies, seed, jet_class=job.jet_class, **common)
    return generate_jets(job.n_jets, seed, classes=(job.jet_class,), **common)


def _jobs(cfg: JetsDatasetConfig, seed: int) -> list[JetJob]:
    jobs = []
    for domain in cfg.domains:
        for split in SPLITS:
            n = getattr(cfg.per_class, split)
            for jet_class in JET_CLASSES:
                for i, start in enumerate(range(0, n, cfg.shard_size)):
                    jobs.append(JetJob(domain, split, jet_class, i, min(cfg.shard_size, n - start), seed, cfg))
    n = cfg.resimulation.jets_per_class
    for jet_class in JET_CLASSES:
        for i, start in enumerate(range(0, n, cfg.shard_size)):
            jobs.append(JetJob("nominal", RESIMULATED, jet_class, i, min(cfg.shard_size, n - start), seed, cfg))
    return jobs


def build_jets_dataset(
    cfg: JetsDatasetConfig, seed: int, directory: str | Path, *, force: bool = False, execution: Execution | None = None
) -> Dataset:
    execution = execution or Execution()
    directory = Path(directory)
    digest = dataset_digest(cfg, seed)
    existing = cached_dataset(directory, digest, name=cfg.name, size=cfg.size, force=force)
    if existing is not None:
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    jobs = _jobs(cfg, seed)
    started = time.time()
    with progress_bar(sum(j.n_jets for j in jobs), f"dataset {cfg.name}", "jet") as bar, \
            executor(execution) as ex:
        results = ex.run(_run_job, jobs, on_done=lambda job: bar.update(job.n_jets))
    seconds = time.time() - started

    samples = {}
    attrs = {"dataset": cfg.name, "version": cfg.version, "size": cfg.size, "digest": digest, "seed": seed,
             "generator": f"Pythia {version('pythia8mc')}, fastjet {version('fastjet')}", "l1ad_version": __version__}
    for domain in cfg.domains:
        for split in SPLITS:
            parts = [r for j, r in zip(jobs, results, strict=True) if j.domain == domain and j.split == split]
            order = np.random.default_rng(pythia_seed(seed, cfg.name, domain, split, "shuffle")).permutation(
                sum(len(p.labels) for p in parts))
            sample = JetSample(*(np.concatenate([getattr(p, f) for p in parts])[order]
                                 for f in ("constituents", "features", "labels", "kinematics")), domain=domain)
            name = f"jets_{domain}_{split}"
            write_jets(directory / f"{name}.h5", sample, dict(attrs, domain=domain, split=split))
            samples[name] = {"file": f"{name}.h5", "label": "jets", "split": split, "domain": domain,
                             "n_events": len(sample.labels), "description": f"{domain} domain, {split} split"}
    resim = [r for j, r in zip(jobs, results, strict=True) if j.split == RESIMULATED]
    if resim:
        joined = ResimulatedJets(*(np.concatenate([getattr(r, f) for r in resim])
                                   for f in ("constituents", "features", "kinematics", "labels")), domain="nominal")
        write_jets(directory / f"{RESIMULATED}.h5", joined, dict(attrs, domain="nominal", split=RESIMULATED))
        samples[RESIMULATED] = {"file": f"{RESIMULATED}.h5", "label": "jets", "split": RESIMULATED, "domain": "nominal",
                                "n_events": len(joined.labels),
                                "description": f"{cfg.resimulation.copies} re-hadronised copies of each event"}
    manifest = DatasetManifest(
        kind="jets", name=cfg.name, version=cfg.version, size=cfg.size, digest=digest, seed=seed,
        generator=attrs["generator"], l1ad_version=__version__, config=cfg.model_dump(), classes=list(JET_CLASSES),
        features=list(FEATURE_NAMES), samples=samples, generation_seconds=round(seconds, 1),
        execution={"workers": execution.workers, "scheduler": execution.scheduler},
    )
    write_json_model(directory / MANIFEST, manifest)
    dataset = Dataset(directory=directory, manifest=manifest)
    write_jets_card(dataset)
    return dataset


def write_jets(path: Path, jets: JetSample | ResimulatedJets, attrs: dict) -> None:
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
            for key, value in (("Constituents", jets.constituents), ("Features", jets.features),
                               ("Labels", jets.labels), ("Kinematics", jets.kinematics)):
                f.create_dataset(key, data=value, compression="gzip", shuffle=True)
            f.create_dataset("FeatureNames", data=np.array(FEATURE_NAMES, dtype="S"))
            f.create_dataset("ClassNames", data=np.array(JET_CLASSES, dtype="S"))
            for key, value in attrs.items():
                f.attrs[key] = value


def load_jets(path: str | Path) -> JetSample | ResimulatedJets:
    """Read a jets file, checking keys, shapes and values."""
    path = Path(path)
    if not path.is_file():
        raise L1adError(f"{path}: no such jets file")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("Constituents", "Features", "Labels", "Kinematics") if k not in f]
            if missing:
                raise L1adError(f"{path}: missing dataset {missing[0]!r}")
            arrays = {k.lower(): f[k][...] for k in ("Constituents", "Features", "Labels", "Kinematics")}
            domain = f.attrs.get("domain", "unknown")
    except OSError as exc:
        raise L1adError(f"{path}: not a readable HDF5 file ({first_line(exc)})") from None
    n = len(arrays["labels"])
    resimulated = arrays["constituents"].ndim == 4
    lead = (n, arrays["constituents"].shape[1]) if resimulated else (n,)
    if arrays["constituents"].shape[: len(lead)] != lead or arrays["constituents"].shape[-1] != 3:
        raise L1adError(f"{path}: 'Constituents' has shape {arrays['constituents'].shape}, expected {(*lead, 'C', 3)}")
    if arrays["features"].shape != (*lead, len(FEATURE_NAMES)):
        raise L1adError(f"{path}: 'Features' has shape {arrays['features'].shape}, expected {(*lead, len(FEATURE_NAMES))}")
    for key in ("constituents", "features", "kinematics"):
        if not np.isfinite(arrays[key]).all():
            raise L1adError(f"{path}: {key.capitalize()!r} has NaN or Inf values")
    if resimulated:
        return ResimulatedJets(arrays["constituents"], arrays["features"], arrays["kinematics"], arrays["labels"], domain)
    return JetSample(arrays["constituents"], arrays["features"], arrays["labels"], arrays["kinematics"], domain)


def write_jets_card(dataset: Dataset) -> Path:
    m, directory = dataset.manifest, dataset.directory
    (directory / "card").mkdir(exist_ok=True)
    shown = ("j_mass_mmdt", "j_multiplicity", "j_tau21_b1", "j_tau32_b1", "j_d2_b1", "j_ptd")
    plt, _ = hep_pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(21, 12))
    for domain, style in zip(m.config["domains"], ("-", "--"), strict=False):
        jets = load_jets(directory / f"jets_{domain}_train.h5")
        for ax, feature in zip(axes.flat, shown, strict=True):
            values = jets.features[:, FEATURE_NAMES.index(feature)]
            bins = np.linspace(*np.quantile(values, [0.005, 0.995]), 40)
            for k, jet_class in enumerate(JET_CLASSES):
                ax.hist(values[jets.labels == k], bins=bins, density=True, histtype="step", linestyle=style,
                        linewidth=2, color=f"C{k}", label=f"{jet_class} ({domain})")
            ax.set_xlabel(feature)
    axes[0, 0].legend(fontsize=10, ncol=2)
    fig.savefig(directory / "card" / "features.png", dpi=60, bbox_inches="tight")
    plt.close(fig)
    lines = [
        f"# Dataset card: `{m.name}` v{m.version} ({m.size})",
        "",
        f"- Digest `{m.digest}`, seed {m.seed}, {m.generator}, l1ad-bench {m.l1ad_version}",
        f"- Jets: anti-kT R = 0.8, {m.config['pt_min_gev']:g} <= pT <= {m.config['pt_max_gev']:g} GeV, |eta| < 2.0, "
        f"matched to the generator-level parton, boson or top; {m.config['n_constituents']} leading constituents as "
        "(pT / jet pT, eta - jet eta, phi - jet phi); generator-level particles, no detector or pile-up",
        f"- Classes: {', '.join(m.classes)}; domains: {', '.join(m.config['domains'])} (see l1ad.config.processes.JET_DOMAINS: "
        "the alternative domain is a shower/fragmentation tune variation standing in for data)",
        f"- Features: {', '.join(m.features)} (definitions in the l1ad.benchmark.jets docstring; correlation "
        "functions on the ungroomed jet)",
        f"- Generation took {m.generation_seconds} s",
        "",
        "| file | domain | split | jets (events for re-simulation) |",
        "|---|---|---|---|",
        *[f"| `{i.file}` | {i.domain} | {i.split} | {i.n_events} |" for i in m.samples.values()],
        "",
        "![features](card/features.png)",
        "",
    ]
    write_text_atomic(directory / "CARD.md", "\n".join(lines))
    return directory / "CARD.md"
