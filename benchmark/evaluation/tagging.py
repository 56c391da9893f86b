"""Jet-tagger metrics on each domain and the robustness report (``l1ad robustness``, ``l1ad-robustness/1``).

Per tagger and domain: accuracy over the five classes (Clopper-Pearson interval), one-vs-rest ROC AUC per class
(bootstrap percentile interval over the test jets), and background rejection 1 / FPR at a fixed signal efficiency for
one class against a set of others, with the discriminant p_s / (p_s + sum of p_b) as in the hls4ml and ParticleNet
papers. The threshold keeps ``ceil(efficiency x n_signal)`` signal jets (those scoring above it); the rejection interval
is the Clopper-Pearson interval of the accepted background fraction at that threshold (it leaves out the threshold's
own fluctuation, which the bootstrap of the drop includes). The nominal-to-alternative drop of a rejection is
1 - R(alternative) / R(nominal), with a bootstrap interval resampling both domains' test jets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from l1ad.benchmark.evaluation.drift import ModelDrift
from l1ad.benchmark.statistics import clopper_pearson
from l1ad.config.base import StrictModel
from l1ad.config.robustness import Rejection

FORMAT = "l1ad-robustness/1"
REPORT_FILE = "robustness.json"
TABLE_FILE = "robustness.md"


class Measured(StrictModel):
    value: float | None = Field(description="None where it cannot be measured (no background jet accepted)")
    interval: tuple[float, float | None] = Field(description="upper end None: unbounded (a rejection with no "
                                                 "background jet accepted)")


class RejectionResult(StrictModel):
    id: str
    rejection: Measured = Field(description="1 / FPR; value None (with a lower limit) when no background passes")
    threshold: float
    n_signal: int
    n_background: int
    n_background_accepted: int


class DomainResult(StrictModel):
    domain: str
    n_jets: int
    accuracy: Measured
    auc: dict[str, Measured] = Field(description="one-vs-rest ROC AUC per class")
    rejections: dict[str, RejectionResult]


class TaggerResult(StrictModel):
    label: str = Field(description="the tagger, with the head for contrastive ones")
    tagger: str
    head: str = Field(description="'supervised', 'probe' or 'fine_tune'")
    kind: Literal["supervised", "contrastive"]
    inputs: Literal["features", "constituents"]
    description: str
    pairs: list[str] = Field(description="contrastive: where the positive pairs came from")
    loss: str | None
    domains: dict[str, DomainResult]
    drops: dict[str, Measured] = Field(description="per rejection id: 1 - R(alternative) / R(nominal)")
    model_dir: str


class TargetCheck(StrictModel):
    """Issue 15's target for one contrastive head against the supervised tagger of the same network."""

    contrastive: str
    supervised: str
    rejection: str
    drop_ratio: float | None = Field(description="the contrastive drop / the supervised drop (target <= 0.5)")
    nominal_loss: float | None = Field(description="1 - R_nominal(contrastive) / R_nominal(supervised) (target <= 0.1)")
    met: bool


class DatasetRef(StrictModel):
    name: str
    version: str
    size: str
    digest: str
    directory: str


class RobustnessReport(StrictModel):
    format: Literal["l1ad-robustness/1"] = FORMAT
    config: str
    dataset: DatasetRef | None = Field(description="the jets dataset; None when the config has no taggers")
    nominal: str
    alternative: str
    confidence_level: float
    bootstrap_samples: int
    rejections: list[Rejection]
    headline: str = Field(description="the rejection id of the target figure")
    taggers: list[TaggerResult]
    targets: list[TargetCheck]
    drift: list[ModelDrift] = Field(default_factory=list, description="anomaly triggers' rate drift on "
                                    "domain-shifted zero-bias variants")


def accuracy(probabilities: np.ndarray, labels: np.ndarray, confidence_level: float) -> Measured:
    correct = int((np.argmax(probabilities, axis=1) == labels).sum())
    return Measured(value=correct / len(labels), interval=clopper_pearson(correct, len(labels), confidence_level))


def auc_one_vs_rest(probabilities: np.ndarray, labels: np.ndarray, k: int) -> float:
    """ROC AUC of class ``k`` against all others, scored by p_k (ties count one half: Mann-Whitney)."""
    from scipy.stats import rankdata

    positive = labels == k
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(probabilities[:, k])
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def discriminant(probabilities: np.ndarray, signal: int, background: Sequence[int]) -> np.ndarray:
    """p_s / (p_s + sum of p_b)."""
    p_s = probabilities[:, signal]
    total = p_s + probabilities[:, list(background)].sum(axis=1)
    return np.divide(p_s, total, out=np.full_like(p_s, 0.5), where=total > 0)


def rejection_at(probabilities: np.ndarray, labels: np.ndarray, rejection: Rejection, classes: Sequence[str],
                 confidence_level: float) -> RejectionResult:
    """Background rejection at a fixed signal efficiency (see the module docstring)."""
    signal = classes.index(rejection.signal)
    background = [classes.index(c) for c in rejection.background]
    d = discriminant(probabilities, signal, background)
    d_signal, d_background = d[labels == signal], d[np.isin(labels, background)]
    if len(d_signal) == 0 or len(d_background) == 0:
        raise ValueError(f"{rejection.id}: no {'signal' if len(d_signal) == 0 else 'background'} jets in the sample")
    kept = math.ceil(rejection.efficiency * len(d_signal))
    threshold = float(np.sort(d_signal)[::-1][kept - 1])  # the kept-th highest signal score; accept d >= threshold
    accepted = int((d_background >= threshold).sum())
    lo, hi = clopper_pearson(accepted, len(d_background), confidence_level)
    value = len(d_background) / accepted if accepted else None
    interval = (1 / hi, 1 / lo if lo > 0 else None)
    return RejectionResult(id=rejection.id, rejection=Measured(value=value, interval=interval), threshold=threshold,
                           n_signal=len(d_signal), n_background=len(d_background), n_background_accepted=accepted)


def domain_result(domain: str, probabilities: np.ndarray, labels: np.ndarray, rejections: Sequence[Rejection],
                  classes: Sequence[str], *, confidence_level: float, bootstrap_samples: int,
                  rng: np.random.Generator) -> DomainResult:
    aucs = {}
    for k, name in enumerate(classes):
        value = auc_one_vs_rest(probabilities, labels, k)
        replicas = []
        for _ in range(bootstrap_samples):
            idx = rng.integers(0, len(labels), size=len(labels))
            replicas.append(auc_one_vs_rest(probabilities[idx], labels[idx], k))
        aucs[name] = Measured(value=value, interval=_percentile_interval(replicas, value, confidence_level))
    return DomainResult(domain=domain, n_jets=len(labels), accuracy=accuracy(probabilities, labels, confidence_level),
                        auc=aucs, rejections={r.id: rejection_at(probabilities, labels, r, classes, confidence_level)
                                              for r in rejections})


def rejection_drop(nominal: tuple[np.ndarray, np.ndarray], alternative: tuple[np.ndarray, np.ndarray],
                   rejection: Rejection, classes: Sequence[str], *, confidence_level: float, bootstrap_samples: int,
                   rng: np.random.Generator) -> Measured:
    """1 - R(alternative) / R(nominal) with a bootstrap interval; None where a rejection is unmeasurable."""

    def drop(nom, alt) -> float | None:
        r_nom = rejection_at(*nom, rejection, classes, confidence_level).rejection.value
        r_alt = rejection_at(*alt, rejection, classes, confidence_level).rejection.value
        return None if r_nom is None or r_alt is None else 1 - r_alt / r_nom

    value = drop(nominal, alternative)
    replicas = []
    for _ in range(bootstrap_samples):
        i = rng.integers(0, len(nominal[1]), size=len(nominal[1]))
        j = rng.integers(0, len(alternative[1]), size=len(alternative[1]))
        try:
            replicas.append(drop((nominal[0][i], nominal[1][i]), (alternative[0][j], alternative[1][j])))
        except ValueError:  # a replica without signal or background jets
            continue
    replicas = [r for r in replicas if r is not None]
    return Measured(value=value, interval=_percentile_interval(replicas, value, confidence_level))


def target_check(contrastive: TaggerResult, supervised: TaggerResult, rejection_id: str) -> TargetCheck:
    """Drop ratio (target <= 0.5) and nominal rejection loss (target <= 0.1) of a contrastive head."""
    drop_c, drop_s = contrastive.drops[rejection_id].value, supervised.drops[rejection_id].value
    r_c = contrastive.domains["nominal"].rejections[rejection_id].rejection.value
    r_s = supervised.domains["nominal"].rejections[rejection_id].rejection.value
    # A supervised tagger that does not drop leaves nothing to halve: the ratio is then undefined.
    ratio = None if drop_c is None or drop_s is None or drop_s <= 0 else max(drop_c, 0.0) / drop_s
    loss = None if r_c is None or r_s is None else 1 - r_c / r_s
    return TargetCheck(contrastive=contrastive.label, supervised=supervised.label, rejection=rejection_id,
                       drop_ratio=ratio, nominal_loss=loss,
                       met=ratio is not None and loss is not None and ratio <= 0.5 and loss <= 0.1)


def _percentile_interval(replicas: list[float], value: float | None, confidence_level: float) -> tuple[float, float]:
    finite = [r for r in replicas if r is not None and np.isfinite(r)]
    if not finite:
        v = value if value is not None and np.isfinite(value) else 0.0
        return (v, v)
    alpha = (1 - confidence_level) / 2
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def markdown_table(report: RobustnessReport) -> str:
    """The robustness tables: per tagger and domain, accuracy, AUCs, rejections, and the drops; then the targets."""
    rej = report.rejections
    lines = [
        f"# Tagger robustness: {report.nominal} -> {report.alternative}",
        "",
        f"Dataset `{report.dataset.name}` v{report.dataset.version} ({report.dataset.size}, digest "
        f"{report.dataset.digest}); intervals at {report.confidence_level:.4g} CL (accuracy, rejection: "
        f"Clopper-Pearson; AUC and drop: {report.bootstrap_samples} bootstrap replicas). Trained on "
        f"{report.nominal} only; rejection = 1 / FPR of the background classes at the stated signal efficiency.",
        "",
        "| tagger | inputs | " + " | ".join(f"R {r.signal} vs {'/'.join(r.background)} @ {r.efficiency:g} "
                                             f"{d}" for r in rej for d in ("nom", "alt", "drop")) +
        " | accuracy nom | accuracy alt | AUC t nom | AUC t alt |",
        "|---|---|" + "---|" * (3 * len(rej) + 4),
    ]
    for t in report.taggers:
        nom, alt = t.domains[report.nominal], t.domains[report.alternative]
        cells = []
        for r in rej:
            cells += [_rejection_text(nom.rejections[r.id].rejection), _rejection_text(alt.rejections[r.id].rejection),
                      _drop_text(t.drops[r.id])]
        auc_t = [d.auc.get("t") for d in (nom, alt)]
        lines.append(f"| {t.label} | {t.inputs} | " + " | ".join(cells) +
                     f" | {_value_text(nom.accuracy, 3)} | {_value_text(alt.accuracy, 3)} | "
                     + " | ".join(_value_text(a, 3) if a else "n/a" for a in auc_t) + " |")
    if report.targets:
        lines += ["", f"Target (headline {report.headline}): contrastive drop <= 0.5 x the supervised drop, nominal "
                  "rejection loss <= 10 %; drop ratio n/a where the supervised tagger does not drop.", "",
                  "| rejection | contrastive | against | drop ratio | nominal loss | met |", "|---|---|---|---|---|---|"]
        for c in report.targets:
            ratio = "n/a" if c.drop_ratio is None else f"{c.drop_ratio:.2f}"
            loss = "n/a" if c.nominal_loss is None else f"{c.nominal_loss:+.1%}"
            lines.append(f"| {c.rejection} | {c.contrastive} | {c.supervised} | {ratio} | {loss} | "
                         f"{'yes' if c.met else 'no'} |")
    return "\n".join(lines) + "\n"


def _value_text(m: Measured, digits: int) -> str:
    if m.value is None:
        return "n/a"
    return f"{m.value:.{digits}f} [{m.interval[0]:.{digits}f}, {m.interval[1]:.{digits}f}]"


def _rejection_text(m: Measured) -> str:
    if m.value is None:
        return f"> {m.interval[0]:.0f}"
    hi = "inf" if m.interval[1] is None else f"{m.interval[1]:.1f}"
    return f"{m.value:.1f} [{m.interval[0]:.1f}, {hi}]"


def _drop_text(m: Measured) -> str:
    if m.value is None:
        return "n/a"
    return f"{m.value:+.1%} [{m.interval[0]:+.1%}, {m.interval[1]:+.1%}]"


def plot_roc(curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], rejection: Rejection, path) -> None:
    """Background rejection against signal efficiency per tagger (one panel per domain)."""
    from l1ad.benchmark.plotting import hep_pyplot

    plt, _ = hep_pyplot()
    domains = list(next(iter(curves.values())))
    fig, axes = plt.subplots(1, len(domains), figsize=(10 * len(domains), 8), squeeze=False)
    for ax, domain in zip(axes[0], domains, strict=True):
        colours = plt.get_cmap("tab10")
        for i, (label, per_domain) in enumerate(curves.items()):
            eff, rej = per_domain[domain]
            ax.plot(eff, rej, color=colours(i % 10), linestyle="--" if "probe" in label else "-", linewidth=2,
                    label=label)
        ax.axvline(rejection.efficiency, color="grey", linestyle=":")
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"{rejection.signal} efficiency")
        ax.set_ylabel(f"{'/'.join(rejection.background)} rejection")
        ax.set_title(f"{domain} domain")
        ax.legend(fontsize=12)
    fig.savefig(path, dpi=70, bbox_inches="tight")
    plt.close(fig)


def roc_curve(probabilities: np.ndarray, labels: np.ndarray, rejection: Rejection,
              classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(signal efficiency, background rejection) along the discriminant, for the plot."""
    signal = classes.index(rejection.signal)
    background = [classes.index(c) for c in rejection.background]
    d = discriminant(probabilities, signal, background)
    d_s, d_b = np.sort(d[labels == signal])[::-1], d[np.isin(labels, background)]
    eff = np.arange(1, len(d_s) + 1) / len(d_s)
    fpr = np.searchsorted(np.sort(-d_b), -d_s, side="right") / len(d_b)
    keep = fpr > 0
    return eff[keep], 1 / fpr[keep]


def plot_embedding(embedded: dict[str, tuple[np.ndarray, np.ndarray]], classes: Sequence[str], title: str,
                   path) -> None:
    """The first two principal components of a representation, coloured by class (left) and by domain (right)."""
    from sklearn.decomposition import PCA

    from l1ad.benchmark.plotting import hep_pyplot

    plt, _ = hep_pyplot()
    everything = np.concatenate([e for e, _ in embedded.values()])
    pca = PCA(n_components=2, random_state=0).fit(everything)
    fig, (by_class, by_domain) = plt.subplots(1, 2, figsize=(20, 9))
    for d, (domain, (e, labels)) in enumerate(embedded.items()):
        xy = pca.transform(e)
        for k, name in enumerate(classes):
            sel = labels == k
            by_class.scatter(xy[sel, 0], xy[sel, 1], s=4, alpha=0.4, color=f"C{k}",
                             marker="o" if d == 0 else "x", label=f"{name} ({domain})")
        by_domain.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.3, color=f"C{d}", label=domain)
    for ax, what in ((by_class, "class"), (by_domain, "domain")):
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.set_title(f"{title}: by {what}")
        ax.legend(fontsize=10, markerscale=4, ncol=2 if what == "class" else 1)
    fig.savefig(path, dpi=60, bbox_inches="tight")
    plt.close(fig)
