"""The leaderboard: machine-readable entries (``board.json``) and a rendered Markdown table (``LEADERBOARD.md``).

One entry per (model, submitter, dataset, dataset version); submitting again replaces that entry. Entries are ranked
per dataset by the mean signal efficiency at the leaderboard's trigger rate. Every number carries its source.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from l1ad.errors import L1adError
from l1ad.files import write_text_atomic

BOARD_FILE = "board.json"
MARKDOWN_FILE = "LEADERBOARD.md"
SCHEMA = "l1ad-leaderboard/1"


@dataclass(frozen=True)
class SignalResult:
    efficiency: float
    efficiency_lo: float
    efficiency_hi: float
    efficiency_bootstrap_std: float | None
    roc_auc: float
    measurable: bool


@dataclass(frozen=True)
class Entry:
    model: str
    submitter: str
    dataset: str
    dataset_version: str
    dataset_digest: str
    rate_khz: float
    collision_rate_mhz: float
    background_rate_khz: float
    background_rate_lo_khz: float
    background_rate_hi_khz: float
    signals: dict[str, SignalResult]
    firmware_decision_mismatch: float | None  # fraction of background+signal test events, at rate_khz
    firmware_source: str
    provenance: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.model, self.submitter, self.dataset, self.dataset_version)

    @property
    def mean_efficiency(self) -> float:
        return sum(s.efficiency for s in self.signals.values()) / len(self.signals)

    @classmethod
    def from_dict(cls, data: dict) -> Entry:
        try:
            signals = {k: SignalResult(**v) for k, v in data["signals"].items()}
            return cls(**{**data, "signals": signals})
        except (KeyError, TypeError) as exc:
            raise L1adError(f"leaderboard entry is malformed ({exc})") from None


def read_board(directory: str | Path) -> list[Entry]:
    path = Path(directory) / BOARD_FILE
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise L1adError(f"{path}: corrupt leaderboard ({exc.msg} at line {exc.lineno}); not overwriting it") from None
    if data.get("schema") != SCHEMA:
        raise L1adError(f"{path}: unknown leaderboard schema {data.get('schema')!r}, expected {SCHEMA!r}")
    return [Entry.from_dict(e) for e in data["entries"]]


def submit(directory: str | Path, entry: Entry) -> list[Entry]:
    """Add or replace ``entry`` and rewrite both files atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    entries = [e for e in read_board(directory) if e.key != entry.key] + [entry]
    entries.sort(key=lambda e: (e.dataset, e.dataset_version, -e.mean_efficiency, e.model))
    write_text_atomic(directory / BOARD_FILE, json.dumps({"schema": SCHEMA, "entries": [asdict(e) for e in entries]}, indent=2))
    write_text_atomic(directory / MARKDOWN_FILE, render_markdown(entries))
    return entries


def render_markdown(entries: list[Entry]) -> str:
    lines = [
        "# l1ad-bench leaderboard",
        "",
        "Signal efficiency at a fixed trigger rate on the background test sample (higher is better). Efficiencies are "
        "measured on simulated test samples; intervals are Clopper-Pearson at 68.3 % CL, and a working point marked * "
        "has too little background above threshold to pin down the rate. Firmware mismatch is the fraction of test events "
        "whose trigger decision differs between the Keras model and the hls4ml bit-accurate C++ emulation.",
        "",
    ]
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        groups.setdefault((e.dataset, e.dataset_version), []).append(e)
    for (dataset, version), group in groups.items():
        signals = sorted({s for e in group for s in e.signals})
        first = group[0]
        lines += [
            f"## Dataset `{dataset}` v{version} at {first.rate_khz:g} kHz (collision rate {first.collision_rate_mhz:g} MHz)",
            "",
            "| # | model | submitter | " + " | ".join(f"{s} eff." for s in signals)
            + " | mean AUC | achieved rate [kHz] | firmware mismatch | config |",
            "|---|---|---|" + "---|" * len(signals) + "---|---|---|---|",
        ]
        for rank, e in enumerate(group, 1):
            cells = []
            for s in signals:
                r = e.signals.get(s)
                cells.append("n/a" if r is None else f"{r.efficiency:.3f} [{r.efficiency_lo:.3f}, {r.efficiency_hi:.3f}]"
                             + ("" if r.measurable else "*"))
            auc = sum(r.roc_auc for r in e.signals.values()) / len(e.signals)
            fw = "n/a" if e.firmware_decision_mismatch is None else f"{e.firmware_decision_mismatch:.2e}"
            rate = f"{e.background_rate_khz:.2f} [{e.background_rate_lo_khz:.2f}, {e.background_rate_hi_khz:.2f}]"
            lines.append(
                f"| {rank} | {e.model} | {e.submitter} | " + " | ".join(cells)
                + f" | {auc:.3f} | {rate} | {fw} | `{e.provenance.get('config_digest', '')}` |"
            )
        lines.append("")
    if not entries:
        lines.append("No entries yet.")
    return "\n".join(lines) + "\n"

