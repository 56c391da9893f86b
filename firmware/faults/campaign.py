"""Single-bit fault campaigns on the bit-exact firmware emulator: a fast exact path and the naive reference.

The naive path flips one bit, rebuilds the emulator and runs every event through the whole network. The fast path
uses the structure of a flip: a weight ``w[i, j]`` of a dense layer enters only neuron ``j``, whose exact sum changes
by ``(w' - w) * x[i]`` (a bias flip by the change of the bias), so per chunk of events the fault-free values of every
layer are computed once; for all faults of one neuron at once the new sum, the layer's casts and the elementwise
layers after it (ReLU, quantizers) are applied to that one column; and only the (fault, event) pairs whose value of
that column actually changed run the rest of the network, through the emulator's own compiled layers (a dense
layer reading the column first: its fault-free exact sums, computed once per chunk, move by the change times that
input's weights). Faults in
other layers (convolutions, batch normalization) and any case the shortcut cannot take exactly (a saturating
accumulator the faulted weight can overflow, sums beyond float64's 53 bits) run the faulted network from the faulted
layer on, on the cached inputs of that layer.

Most events sit far from the threshold, so where the faulted neuron reaches the scored outputs through dense, ReLU
and quantizer layers only, a pair is skipped when a bound proves its decision cannot change: a change ``d`` of the
faulted column moves every later value by at most ``D = alpha * |d| + beta`` (``alpha`` from interval arithmetic
on the signed weights, a ReLU or a cast that may clip taken as a slope in [0, 1], so paths of opposite sign cancel;
``beta`` one LSB per rounding cast; valid where no cast can wrap, checked from the types). Every score the bound
covers is a weighted sum of squares ``sum_k c_k r_k**2`` of residuals that move by at most ``L_k D_k``: the firmware
sum of squares (``r = y``), the firmware masked MSE (``r = x - y``) and a software reconstruction error that exposes
its form (``squared_error_terms``: tanh-decoded angles move by at most their scale times the output's change), so the
score moves by at most ``sum_k c_k (2 |r_k| L_k D_k + (L_k D_k)**2)``; a pair whose bound stays below its event's
distance to the threshold (less a float64 rounding allowance) keeps its decision.
The score change itself is measured on the first ``score_events`` events of each sample, where nothing is skipped.

Both paths are exact: per fault they give identical counts and sums (the sums are accumulated in event order in both,
with ``np.add.at``). Per fault and sample the campaign returns the events accepted at the nominal threshold
(``score > threshold``, all events) and, on the first ``score_events`` events, the events whose score changed and
the sum and maximum of ``|score change|``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from l1ad.firmware.emulator import (
    CHUNK,
    FixedPointNetwork,
    accumulation_plan,
    float_sums_exact,
    layer_inputs,
    present_values,
    sums_fit_float,
)
from l1ad.firmware.faults.sites import FaultSites
from l1ad.firmware.fixed import MAX_EXACT_BITS, FixedType, cast, contains
from l1ad.firmware.network import DenseLayer, FixedNetwork, MaskedMSEScore, QuantizeLayer, ReluLayer, SumSquaresScore

PAIRS_PER_PASS = 1 << 18  # (fault, event) pairs sent through the rest of the network at once (~100 MB of values)

ScoreFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (raw network inputs, network outputs) -> scores
ScoreTerms = tuple[np.ndarray, np.ndarray, np.ndarray]  # (c (N, n), |r| (N, n), L (n,)): score = sum_k c_k r_k**2
# What float64 rounding of two scores may take off an event's distance to the threshold, relative to the largest of
# threshold, score and 1 (a score sums a few hundred terms: its rounding error is ~1e-14 of it; allowed 1e-9)
ROUNDING_ALLOWANCE = 1e-9


@dataclass
class CampaignResult:
    """Per fault (rows, in the order of ``sites``) and sample (columns, in the order of ``samples``)."""

    sites: np.ndarray
    samples: list[str]
    n_events: np.ndarray  # (samples,)
    score_events: np.ndarray  # (samples,) the first events of each sample the score change is measured on
    nominal_accepted: np.ndarray  # (samples,) the fault-free network
    accepted: np.ndarray  # (faults, samples) int64
    score_changed: np.ndarray  # (faults, samples) int64: events (of the first score_events) whose score changed
    abs_score_change_sum: np.ndarray  # (faults, samples) float64, over the first score_events
    max_abs_score_change: np.ndarray  # (faults, samples) float64, over the first score_events
    pairs_run: int = 0  # (fault, event) pairs sent through the rest of the network (fast path)
    seconds: float = 0.0  # compute time (of every shard, when run in shards)

    def equals(self, other: CampaignResult) -> bool:
        """Whether two campaigns agree exactly, fault by fault."""
        return (np.array_equal(self.sites, other.sites) and self.samples == other.samples
                and all(np.array_equal(getattr(self, f), getattr(other, f)) for f in
                        ("n_events", "score_events", "nominal_accepted", "accepted", "score_changed",
                         "abs_score_change_sum",
                         "max_abs_score_change")))


class _Tally:
    def __init__(self, n_faults: int, n_samples: int):
        self.accepted = np.zeros((n_faults, n_samples), dtype=np.int64)
        self.changed = np.zeros((n_faults, n_samples), dtype=np.int64)
        self.abs_sum = np.zeros((n_faults, n_samples))
        self.abs_max = np.zeros((n_faults, n_samples))
        self.pairs_run = 0

    def add(self, sample: int, rows: np.ndarray, new_scores: np.ndarray, old_scores: np.ndarray, threshold: float,
            measured: np.ndarray | bool) -> None:
        """Pairs (fault row, event) in event order within each fault (``rows`` ascending by fault, then event);
        ``measured``: which pairs' events are among the sample's first ``score_events``."""
        delta = np.abs(new_scores - old_scores)
        accepts = new_scores > threshold
        flipped = accepts != (old_scores > threshold)  # few: most changed scores keep their decision
        n = len(self.accepted)
        self.accepted[:, sample] += np.bincount(rows[flipped], weights=2.0 * accepts[flipped] - 1.0,
                                                minlength=n).astype(np.int64)
        changed = (delta != 0) & measured
        rows, delta = rows[changed], delta[changed]
        self.changed[:, sample] += np.bincount(rows, minlength=n)
        np.add.at(self.abs_sum[:, sample], rows, delta)  # sequential, in event order: the naive path's sum
        np.maximum.at(self.abs_max[:, sample], rows, delta)


class FaultCampaign:
    """Single-bit faults of one firmware network over fixed event sets.

    Parameters
    ----------
    network
        The firmware network (``network.json``).
    samples
        Sample name -> raw network inputs (the evaluation's), each run in full.
    threshold
        The nominal trigger threshold (accept: ``score > threshold``).
    score_function
        For a network without a firmware score layer: the software score of (raw inputs, network outputs). One with a
        ``squared_error_terms(raw, outputs)`` method (see ``l1ad.models.autoencoder.ReconstructionScore``) lets the
        bound skip events; it must be picklable for shards on Dask workers.
    """

    def __init__(self, network: FixedNetwork, samples: dict[str, np.ndarray], threshold: float,
                 score_function: ScoreFunction | None = None, *, score_events: int | dict[str, int] = 2_000,
                 prune: bool = True,
                 chunk: int = CHUNK // 2):
        if network.score is None and score_function is None:
            raise ValueError(f"{network.model}: the network has no firmware score; pass the software score function")
        self.network, self.net = network, FixedPointNetwork(network)
        self.sites = FaultSites(network)
        self.samples = {name: np.asarray(x, dtype=np.float64).reshape(len(x), -1) for name, x in samples.items()}
        self.threshold, self.score_function, self.chunk = float(threshold), score_function, chunk
        self.score_events = ({name: int(score_events) for name in self.samples} if isinstance(score_events, int)
                             else {name: int(score_events.get(name, 0)) for name in self.samples})
        self.prune = prune
        self._nominal: dict[str, np.ndarray] | None = None
        self._readers = [set(layer_inputs(layer)) for layer in network.layers]
        self._index = {layer.name: index for index, layer in enumerate(network.layers)}
        # what the score needs besides the layers after a fault: the outputs (software score) or the score layer
        self._scored = set(network.outputs) if network.score is None else {network.score}
        self.bound_target = self._bound_target()

    def _bound_target(self) -> str | None:
        """The layer whose values the score is a weighted sum of squared residuals of (None: no bound)."""
        if self.network.score is None:
            if hasattr(self.score_function, "squared_error_terms") and len(self.network.outputs) == 1:
                return self.network.outputs[0]
            return None
        layer = self.network.layer(self.network.score)
        return {SumSquaresScore: lambda: layer.input, MaskedMSEScore: lambda: layer.reconstruction}.get(
            type(layer), lambda: None)()

    def score_terms(self, values: dict[str, np.ndarray], raw: np.ndarray) -> ScoreTerms:
        """The score of each fault-free event as ``sum_k c_k r_k**2`` with residuals moving by at most ``L_k`` times
        the change of value ``k`` of :attr:`bound_target`."""
        y = values[self.bound_target].reshape(len(raw), -1)
        if self.network.score is None:
            return self.score_function.squared_error_terms(raw, y)
        layer = self.network.layer(self.network.score)
        ones = np.ones(y.shape[1])
        if isinstance(layer, SumSquaresScore):
            return np.ones_like(y), np.abs(y), ones
        x = values[layer.input].reshape(len(raw), -1)
        present = present_values(x, layer.features)
        return present / np.maximum(present.sum(axis=1), 1)[:, None], np.abs(x - y), ones

    # -- scores -------------------------------------------------------------------------------------------------------
    def _score(self, values: dict[str, np.ndarray], raw: np.ndarray) -> np.ndarray:
        if self.network.score is not None:
            return values[self.network.score].reshape(len(raw), -1)[:, 0]
        outputs = np.concatenate([values[name].reshape(len(raw), -1) for name in self.network.outputs], axis=1)
        return np.asarray(self.score_function(raw, outputs), dtype=np.float64)

    def nominal_scores(self) -> dict[str, np.ndarray]:
        """The fault-free network's scores of every sample (computed once: every shard of a campaign needs them)."""
        if self._nominal is None:
            self._nominal = {
                name: np.concatenate([self._score(self.net.layer_values(x[s:s + self.chunk]), x[s:s + self.chunk])
                                      for s in range(0, len(x), self.chunk)]) if len(x) else np.empty(0)
                for name, x in self.samples.items()}
        return self._nominal

    def _result(self, sites: np.ndarray, tally: _Tally, nominal: dict[str, np.ndarray]) -> CampaignResult:
        names = list(self.samples)
        nominal_accepted = np.array([int((nominal[n] > self.threshold).sum()) for n in names], dtype=np.int64)
        n_events = np.array([len(self.samples[n]) for n in names], dtype=np.int64)
        return CampaignResult(sites=np.asarray(sites, dtype=np.int64), samples=names, n_events=n_events,
                              score_events=np.minimum(n_events, [self.score_events[n] for n in names]),
                              nominal_accepted=nominal_accepted, accepted=tally.accepted + nominal_accepted,
                              score_changed=tally.changed, abs_score_change_sum=tally.abs_sum,
                              max_abs_score_change=tally.abs_max, pairs_run=tally.pairs_run)

    def empty_result(self) -> CampaignResult:
        """A result with no faults: the fault-free counts only."""
        return self._result(np.empty(0, dtype=np.int64), _Tally(0, len(self.samples)), self.nominal_scores())

    # -- the naive reference --------------------------------------------------------------------------------------------
    def run_naive(self, sites: Sequence[int], progress: Callable[[float], None] | None = None) -> CampaignResult:
        """Flip, rebuild the emulator, run every event through the whole network: one fault at a time."""
        sites = np.asarray(sites, dtype=np.int64)
        nominal = self.nominal_scores()
        tally = _Tally(len(sites), len(self.samples))
        for row, site in enumerate(sites):
            faulty = FixedPointNetwork(self.sites.with_fault(self.network, int(site)))
            for column, (name, x) in enumerate(self.samples.items()):
                for start in range(0, len(x), self.chunk):
                    raw = x[start:start + self.chunk]
                    new = self._score(faulty.layer_values(raw), raw)
                    tally.add(column, np.full(len(raw), row), new, nominal[name][start:start + self.chunk],
                              self.threshold, start + np.arange(len(raw)) < self.score_events[name])
            if progress is not None:
                progress(1)
        return self._result(sites, tally, nominal)

    # -- the fast path ----------------------------------------------------------------------------------------------------
    def run(self, sites: Sequence[int], progress: Callable[[float], None] | None = None) -> CampaignResult:
        """The same results as :meth:`run_naive`, computed by recomputing only what each fault changes."""
        sites = np.asarray(sites, dtype=np.int64)
        nominal = self.nominal_scores()
        tally = _Tally(len(sites), len(self.samples))
        groups = self._groups(sites)
        total_events = max(sum(len(x) for x in self.samples.values()), 1)
        for column, (name, x) in enumerate(self.samples.items()):
            for start in range(0, len(x), self.chunk):
                raw = x[start:start + self.chunk]
                values = self.net.layer_values(raw)
                old = nominal[name][start:start + self.chunk]
                terms = self.score_terms(values, raw) if self.prune and self.bound_target is not None else None
                chunk = _Chunk(values, raw, old, column, start + np.arange(len(raw)) < self.score_events[name], terms)
                for group in groups:
                    group.run(self, chunk, tally)
                if progress is not None:  # in faults: each chunk of events is its share of every fault
                    progress(len(sites) * len(raw) / total_events)
        return self._result(sites, tally, nominal)

    def _groups(self, sites: np.ndarray) -> list:
        """Faults grouped by the neuron they change (dense layers), the rest one by one."""
        arrays, elements, _ = self.sites.locate(sites)
        by_column: dict[tuple[int, int], list[int]] = {}
        generic = []
        for row, (a, element) in enumerate(zip(arrays.tolist(), elements.tolist(), strict=True)):
            array = self.sites.arrays[a]
            layer = self.network.layers[array.layer_index]
            if isinstance(layer, DenseLayer):
                n_out = len(layer.bias)
                by_column.setdefault((array.layer_index, element % n_out if array.parameter == "weight" else element),
                                     []).append(row)
            else:
                generic.append(row)
        groups = [_NeuronFaults(self, index, column, np.array(rows), sites[rows])
                  for (index, column), rows in sorted(by_column.items())]
        if generic:
            groups.append(_LayerFaults(np.array(generic), sites[generic]))
        return groups

    def _tail(self, start: int, values: dict[str, np.ndarray], events: np.ndarray,
              given: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run layers ``start`` onwards on the rows ``events`` of the fault-free ``values``, with the layers in
        ``given`` (already for those rows) replacing theirs."""
        needed = set().union(self._scored, *self._readers[start:])
        tail = {name: values[name][events] for name in needed if self._index[name] < start and name not in given}
        tail.update(given)
        return self.net.resume(tail, start)


@dataclass
class _Chunk:
    """One chunk of one sample: every fault-free layer value, the raw inputs, the fault-free scores."""

    values: dict[str, np.ndarray]
    raw: np.ndarray
    scores: np.ndarray
    sample: int  # column of the tally
    measured: np.ndarray  # events among the sample's first score_events
    terms: ScoreTerms | None  # the fault-free score's form (FaultCampaign.score_terms), where the bound applies
    # per dense layer: its fault-free exact sums (None: float64 would not hold them) and its largest |input|
    sums: dict[str, tuple[np.ndarray | None, float]] = field(default_factory=dict)


class _LayerFaults:
    """Faults the neuron shortcut does not cover: the faulted network from the faulted layer on, for all events."""

    def __init__(self, rows: np.ndarray, sites: np.ndarray):
        self.rows, self.sites_ = rows, sites

    def run(self, campaign: FaultCampaign, chunk: _Chunk, tally: _Tally) -> None:
        for row, site in zip(self.rows.tolist(), self.sites_.tolist(), strict=True):
            _run_from_faulted_layer(campaign, int(site), row, chunk, tally)


def _run_from_faulted_layer(campaign: FaultCampaign, site: int, row: int, chunk: _Chunk, tally: _Tally) -> None:
    array, _, _, _ = campaign.sites.flipped(site)
    faulty = FixedPointNetwork(campaign.sites.with_fault(campaign.network, site))
    start = array.layer_index
    earlier = {name: v for name, v in chunk.values.items() if campaign._index[name] < start}
    new = campaign._score(faulty.resume(earlier, start), chunk.raw)
    tally.add(chunk.sample, np.full(len(chunk.raw), row), new, chunk.scores, campaign.threshold, chunk.measured)


def _rounding_slack(t: FixedType, source: FixedType) -> float:
    """The most a cast to ``t`` can add to a difference of two values of type ``source`` (0 if it keeps them)."""
    return 0.0 if t.frac >= source.frac else 2.0**-t.frac


def _in_range(t: FixedType, lo: float, hi: float) -> bool:
    """Whether values in [lo, hi] lie in ``t``'s range (no overflow mode ever acts on them)."""
    m_lo, m_hi = t.mantissa_range
    return m_lo * 2.0**-t.frac <= lo and hi <= m_hi * 2.0**-t.frac


def _cannot_wrap(t: FixedType, lo: float, hi: float) -> bool:
    """Whether a cast to ``t`` of values in [lo, hi] never wraps (saturation keeps differences bounded too)."""
    if t.overflow in ("SAT", "SAT_SYM"):
        return True
    if t.overflow != "WRAP":
        return False  # SAT_ZERO jumps to zero
    return _in_range(t, lo, hi)


def _score_bound(campaign: FaultCampaign, start: int, column: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(alpha, beta) such that a change ``d`` of output ``column`` of layer ``start - 1`` changes value ``m`` of the
    campaign's bound target by at most ``alpha[m] * |d| + beta[m]``; None where no such bound holds (no target,
    another kind of layer on the way, a cast could wrap)."""
    network, net = campaign.network, campaign.net
    layers, target = network.layers, campaign.bound_target
    if target is None or campaign._index[target] < start - 1:
        return None
    width = int(np.prod(net.shape(layers[start - 1].name)))
    # Every value's change is c * d + e with the coefficient c in [low, high] and |e| <= beta (the casts' rounding):
    # dense layers sum such intervals with their signed weights, a ReLU's slope lies in [0, 1], so signs can cancel
    # where absolute weights alone would add them up.
    low, high, beta = np.zeros(width), np.zeros(width), np.zeros(width)
    low[column] = high[column] = 1.0
    previous = layers[start - 1].name
    for layer in layers[start:]:
        if previous == target:
            return np.maximum(-low, high), beta
        if getattr(layer, "input", None) != previous:
            return None
        in_t = net.output_type(previous)
        lo, hi = in_t.mantissa_range[0] * 2.0**-in_t.frac, in_t.mantissa_range[1] * 2.0**-in_t.frac
        if isinstance(layer, DenseLayer):
            w_int = np.asarray(layer.weight, dtype=np.int64).reshape(-1, len(layer.bias))
            weights = accumulation_plan(layer, w_int, in_t)
            if not weights.never_overflows:
                return None  # the accumulator may saturate or wrap term by term
            abs_w = np.abs(weights.w)
            bound = in_t.max_abs * abs_w.sum(axis=0).max(initial=0) + np.abs(weights.bias).max(initial=0)
            if not _cannot_wrap(layer.type, -bound, bound):
                return None
            positive, negative = np.maximum(weights.w, 0.0), np.minimum(weights.w, 0.0)
            low, high = low @ positive + high @ negative, high @ positive + low @ negative
            if not _in_range(layer.type, -bound, bound):  # a saturating cast may clip: its slope lies in [0, 1]
                low, high = np.minimum(low, 0.0), np.maximum(high, 0.0)
            beta = beta @ abs_w + _rounding_slack(layer.type, layer.accum_type)
        elif isinstance(layer, ReluLayer):
            if not _cannot_wrap(layer.type, 0.0, max(hi, 0.0)):
                return None
            low, high = np.minimum(low, 0.0), np.maximum(high, 0.0)
            beta = beta + _rounding_slack(layer.type, in_t)
        elif isinstance(layer, QuantizeLayer):  # the identity and its rounding, or a saturating cast that may clip
            identity = contains(layer.type, in_t)
            if not (identity or _cannot_wrap(layer.type, lo, hi)):
                return None
            if not (identity or _in_range(layer.type, lo, hi)):
                low, high = np.minimum(low, 0.0), np.maximum(high, 0.0)
            beta = beta + (0.0 if identity else _rounding_slack(layer.type, in_t))
        else:
            return None
        previous = layer.name
    return (np.maximum(-low, high), beta) if previous == target else None


def _column_slack(campaign: FaultCampaign, chain: list[int]) -> float | None:
    """The most the casts of a dense layer's output and of the elementwise layers after it (``chain``) can add to a
    change of its exact sum; None if one of the elementwise casts could wrap (the dense layer's own casts are checked
    per chunk, from the faulted sums' range)."""
    layers, net = campaign.network.layers, campaign.net
    dense = layers[chain[0]]
    slack = _rounding_slack(dense.type, dense.accum_type)
    for index in chain[1:]:
        layer = layers[index]
        in_t = net.output_type(layer.input)
        lo, hi = (m * 2.0**-in_t.frac for m in in_t.mantissa_range)
        if isinstance(layer, ReluLayer):
            if not _cannot_wrap(layer.type, 0.0, max(hi, 0.0)):
                return None
            slack += _rounding_slack(layer.type, in_t)
        elif not contains(layer.type, in_t):
            if not _cannot_wrap(layer.type, lo, hi):
                return None
            slack += _rounding_slack(layer.type, in_t)
    return slack


class _NeuronFaults:
    """All faults of one neuron ``column`` of dense layer ``index``: weights ``w[:, column]`` and its bias."""

    def __init__(self, campaign: FaultCampaign, index: int, column: int, rows: np.ndarray, sites: np.ndarray):
        network = campaign.network
        self.index, self.column, self.rows, self.sites_ = index, column, rows, sites
        self.layer: DenseLayer = network.layers[index]
        in_t = campaign.net.output_type(self.layer.input)
        self.w_int = np.asarray(self.layer.weight, dtype=np.int64).reshape(-1, len(self.layer.bias))
        self.weights = accumulation_plan(self.layer, self.w_int, in_t)
        acc_t = self.layer.accum_type
        # Per fault: the input it multiplies (-1 for a bias), the exact change of the column's sum per unit input
        # (or of the bias after its cast to the accumulator), and whether the faulted layer still sums exactly.
        inputs, deltas, exact = [], [], []
        bias_now = self.weights.bias[column]
        for site in sites.tolist():
            array, element, before, after = campaign.sites.flipped(int(site))
            if array.parameter == "weight":
                i = element // len(self.layer.bias)
                inputs.append(i)
                deltas.append(np.ldexp(float(after - before), -self.layer.weight_type.frac))
                w_faulty, b_faulty = self.w_int.copy(), None
                w_faulty[i, column] = after
            else:
                inputs.append(-1)
                faulty_bias = cast(np.array([np.ldexp(float(after), -self.layer.bias_type.frac)]), acc_t)[0]
                deltas.append(faulty_bias - bias_now)
                w_faulty, b_faulty = self.w_int, np.asarray(self.layer.bias, dtype=np.int64).copy()
                b_faulty[column] = after
            if acc_t.overflow == "WRAP" and self.weights.exact_sum:
                exact.append(True)  # wrapping sums are exact in any order, whatever the weights
            else:
                exact.append(accumulation_plan(self.layer, w_faulty, in_t, b_faulty).exact_sum)
        self.inputs, self.deltas, self.exact = np.array(inputs), np.array(deltas), np.array(exact)
        # The elementwise layers right after this one (ReLU, quantizers) act on the column alone.
        self.chain = [index]
        layers = network.layers
        while (self.chain[-1] + 1 < len(layers) and isinstance(layers[self.chain[-1] + 1], (ReluLayer, QuantizeLayer))
               and layers[self.chain[-1] + 1].input == layers[self.chain[-1]].name
               and sum(layers[self.chain[-1]].name in r for r in campaign._readers) == 1
               and layers[self.chain[-1]].name not in campaign._scored):
            self.chain.append(self.chain[-1] + 1)
        self.start = self.chain[-1] + 1
        # A dense layer reading the column next: one input of it changes, so its exact sums move by the change times
        # that input's weights (the fault-free sums computed once per chunk), no need to recompute every product.
        after = layers[self.start] if self.start < len(layers) else None
        self.next_dense = (after.name if isinstance(after, DenseLayer) and after.input == layers[self.chain[-1]].name
                           and campaign.net.dense_plan(after.name).exact_sum else None)
        self.next_weights = None if self.next_dense is None else campaign.net.dense_plan(self.next_dense).w[column]
        self.bound = _score_bound(campaign, self.start, column) if campaign.prune else None
        self.column_slack = _column_slack(campaign, self.chain)

    def _fallback(self, campaign: FaultCampaign, chunk: _Chunk, tally: _Tally, which: np.ndarray) -> None:
        for row, site in zip(self.rows[which].tolist(), self.sites_[which].tolist(), strict=True):
            _run_from_faulted_layer(campaign, int(site), row, chunk, tally)

    def run(self, campaign: FaultCampaign, chunk: _Chunk, tally: _Tally) -> None:
        values, raw = chunk.values, chunk.raw
        x = values[self.layer.input].reshape(len(raw), -1)
        if not float_sums_exact(x, self.weights):  # float sums of this chunk would not be exact
            self._fallback(campaign, chunk, tally, np.ones(len(self.rows), dtype=bool))
            return
        self._fallback(campaign, chunk, tally, ~self.exact)
        keep = np.flatnonzero(self.exact)
        if not keep.size:
            return
        inputs, deltas, rows = self.inputs[keep], self.deltas[keep], self.rows[keep]
        total = x @ self.weights.w[:, self.column] + self.weights.bias[self.column]  # exact (checked above)
        largest = np.abs(total).max(initial=0) + np.abs(deltas).max(initial=0) * max(np.abs(x).max(initial=0), 1.0)
        if largest * 2.0**self.layer.accum_type.frac >= 2.0**MAX_EXACT_BITS:
            self._fallback(campaign, chunk, tally, keep)
            return
        reach_needed = self._reach_needed(campaign, chunk) if self.bound is not None else None
        if (reach_needed is not None and self.column_slack is not None
                and _cannot_wrap(self.layer.accum_type, -largest, largest)
                and _cannot_wrap(self.layer.type, -largest, largest)):
            f, e = self._candidates(chunk, x, reach_needed - self.column_slack, keep)
        else:
            n_faults, n_events = len(keep), len(raw)
            f, e = np.repeat(np.arange(n_faults), n_events), np.tile(np.arange(n_events), n_faults)
        moved = total[e] + deltas[f] * np.where(inputs[f] >= 0, x[e, np.maximum(inputs[f], 0)], 1.0)
        layers = campaign.network.layers
        column_values = {self.layer.name: cast(cast(moved, self.layer.accum_type), self.layer.type)}
        for index in self.chain[1:]:
            column_values[layers[index].name] = campaign.net.step(index)({layers[index].input:
                                                                          column_values[layers[index - 1].name]})
        last = layers[self.chain[-1]].name
        change = column_values[last] - values[last].reshape(len(raw), -1)[e, self.column]
        needed = change != 0
        if reach_needed is not None:  # skip pairs whose decision provably stays, outside the measured events
            needed &= (np.abs(change) >= reach_needed[e]) | chunk.measured[e]
        f, e, change = f[needed], e[needed], change[needed]
        column_values = {name: v[needed] for name, v in column_values.items()}
        tally.pairs_run += len(f)
        sums = self._next_sums(campaign, chunk, column_values[last])
        resume = self.start if sums is None else self.start + 1
        for first in range(0, len(f), PAIRS_PER_PASS):
            part = slice(first, first + PAIRS_PER_PASS)
            given = {}
            if sums is not None:
                moved_sums = sums[e[part]] + change[part, None] * self.next_weights
                given[self.next_dense] = campaign.net.dense_from_sums(self.next_dense, moved_sums)
            for index in self.chain:
                name = layers[index].name
                if any(name in r for r in campaign._readers[resume:]) or name in campaign._scored:
                    rows_of = values[name].reshape(len(raw), -1)[e[part]]
                    rows_of[:, self.column] = column_values[name][part]
                    given[name] = rows_of
            out = campaign._tail(resume, values, e[part], given)
            tally.add(chunk.sample, rows[f[part]], campaign._score(out, raw[e[part]]), chunk.scores[e[part]],
                      campaign.threshold, chunk.measured[e[part]])

    def _next_sums(self, campaign: FaultCampaign, chunk: _Chunk, column: np.ndarray) -> np.ndarray | None:
        """The fault-free exact sums (products and bias) of the dense layer reading the column, for every event of
        the chunk, when float64 holds them, the moved sums and every product of a change (the column taking the
        values ``column``) exactly; else None."""
        if self.next_dense is None:
            return None
        weights = campaign.net.dense_plan(self.next_dense)
        if self.next_dense not in chunk.sums:
            x = chunk.values[campaign.network.layer(self.next_dense).input].reshape(len(chunk.raw), -1)
            largest = float(np.abs(x).max(initial=0))
            chunk.sums[self.next_dense] = (x @ weights.w + weights.bias if float_sums_exact(x, weights) else None,
                                           largest)
        sums, largest = chunk.sums[self.next_dense]
        # |change| <= largest + max |column|: products and partial sums of that size must be exact too
        exact = sums is not None and sums_fit_float(largest + float(np.abs(column).max(initial=0)), weights)
        return sums if exact else None

    def _candidates(self, chunk: _Chunk, x: np.ndarray, reach: np.ndarray, keep: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """(fault, event) pairs, as positions in ``keep`` and in the chunk, that need the column computed: the
        column moves by at most ``|delta| |x_i|`` (plus the casts' rounding, already taken off ``reach``), so a
        pair whose largest possible move stays below its event's ``reach`` keeps its decision. Weight by weight:
        first the events where the weight's largest flip could matter, then which of its bits do; measured events
        take every pair. Pairs come out in event order within each fault."""
        measured = chunk.measured
        measured_events = np.flatnonzero(measured)
        faults, events = [], []
        for i, positions in self._by_input(keep):
            size = np.abs(self.deltas[keep[positions]])
            x_i = np.abs(x[:, i]) if i >= 0 else np.ones(len(x))
            candidate = np.flatnonzero(x_i * size.max() >= reach)
            if measured_events.size:
                candidate = np.union1d(candidate, measured_events)
            if not candidate.size:
                continue
            ok = (size[:, None] * x_i[candidate][None, :] >= reach[candidate][None, :]) | measured[candidate][None, :]
            ff, ee = np.nonzero(ok)
            faults.append(positions[ff])
            events.append(candidate[ee])
        if not faults:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return np.concatenate(faults), np.concatenate(events)

    def _by_input(self, keep: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """The faults in ``keep`` grouped by the input they multiply (-1: the bias), as positions in ``keep``."""
        inputs = self.inputs[keep]
        return [(int(i), np.flatnonzero(inputs == i)) for i in np.unique(inputs)]

    def _reach_needed(self, campaign: FaultCampaign, chunk: _Chunk) -> np.ndarray:
        """Per event: the smallest change ``D`` of the column whose score bound ``(a2 D + a1) D + a0`` reaches the
        event's distance to the threshold; a smaller change cannot move the decision."""
        c, r, lipschitz = chunk.terms
        u, v = lipschitz * self.bound[0], lipschitz * self.bound[1]  # how far each residual moves: u D + v
        cr = c * r
        a2 = c @ (u * u)
        a1 = 2.0 * (cr @ u + c @ (u * v))
        a0 = 2.0 * (cr @ v) + c @ (v * v)
        # the distance to the threshold, less what float64 rounding of the scores could take off it, and the bound
        # evaluated in float64: the root is taken a factor 1e-9 short of where it is, never beyond
        scale = np.maximum(np.maximum(np.abs(chunk.scores), abs(campaign.threshold)), 1.0)
        margin = (np.abs(campaign.threshold - chunk.scores) - ROUNDING_ALLOWANCE * scale) / (1 + 1e-9)
        left = margin - a0
        with np.errstate(divide="ignore", invalid="ignore"):
            quadratic = 2.0 * left / (a1 + np.sqrt(a1 * a1 + 4.0 * a2 * np.maximum(left, 0.0)))
            root = np.where(a2 > 0, quadratic, np.where(a1 > 0, left / a1, np.inf))
        return np.where(left > 0, root * (1 - 1e-9), 0.0)
