"""Which bits to protect, without a campaign: rankings of the fault sites, and how well each finds the harmful ones.

The rankings work on a float surrogate of the firmware network (its dense layers with the fixed-point weights as
values, ReLUs, quantizers as identities) and the mean trigger score over the background events, the quantity whose
growth floods the trigger:

* ``bit_weight``: the size of the flip, ``|w' - w|`` (``2**bit`` in the parameter's units, the sign bit's weight for
  the sign bit);
* ``gradient``: the first-order change of the mean background score, ``|dL/dw * (w' - w)|``;
* ``hessian``: as FKeras ranks bits, a parameter's Hessian score ``sum_k lambda_k |v_k|`` over the top eigenpairs of the
  Hessian of the mean score (power iteration with deflation, Hessian-vector products from central differences of the
  exact gradient), times the size of the flip. The Hessian's trace (Hutchinson's estimator) is reported beside it.

Each ranking is scored against the campaign's outcome: the share of catastrophic faults among its top-k sites for every
k, against an oracle that puts them first and a random order (k / N), summarised as the recall at k = the number of
catastrophic faults and the area between the ranking's curve and the random one relative to the oracle's.
"""

from __future__ import annotations

import numpy as np

from l1ad.config.base import StrictModel
from l1ad.firmware.faults.sites import FaultSites
from l1ad.firmware.network import DenseLayer, FixedNetwork, InputLayer, QuantizeLayer, ReluLayer, SumSquaresScore

RANKINGS = ("bit_weight", "gradient", "hessian")


class RankingScore(StrictModel):
    name: str
    recall_at_n_catastrophic: float
    normalized_area: float
    curve_k: list[int]
    curve_caught: list[float]


class Surrogate:
    """The float surrogate of a dense network with a sum-of-squares score, and the gradient of its mean score."""

    def __init__(self, network: FixedNetwork):
        self.steps: list[tuple[str, int | None]] = []
        self.params: list[np.ndarray] = []  # weight, bias of each dense layer, in order
        self.frac: list[tuple[int, int]] = []
        for layer in network.layers:
            if isinstance(layer, InputLayer | QuantizeLayer):
                continue
            if isinstance(layer, DenseLayer):
                w = np.ldexp(np.asarray(layer.weight, dtype=np.float64), -layer.weight_type.frac)
                b = np.ldexp(np.asarray(layer.bias, dtype=np.float64), -layer.bias_type.frac)
                self.steps.append(("dense", len(self.params)))
                self.params += [w.reshape(-1, len(b)), b]
            elif isinstance(layer, ReluLayer):
                self.steps.append(("relu", None))
            elif isinstance(layer, SumSquaresScore):
                self.steps.append(("score", None))
            else:
                raise ValueError(f"no float surrogate for a {layer.kind} layer ({layer.name})")
        if not self.steps or self.steps[-1][0] != "score":
            raise ValueError("the surrogate needs a firmware sum-of-squares score")

    def gradient(self, params: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
        """d(mean score)/d(each parameter array)."""
        activations, masks = [x], []
        h = x
        for kind, index in self.steps[:-1]:
            if kind == "dense":
                h = h @ params[index] + params[index + 1]
            else:
                masks.append(h > 0)
                h = np.maximum(h, 0.0)
            activations.append(h)
        grad = 2.0 * h / len(x)  # d mean(sum h**2) / dh
        grads: list[np.ndarray | None] = [None] * len(params)
        relu = len(masks)
        for position in range(len(self.steps) - 2, -1, -1):
            kind, index = self.steps[position]
            if kind == "dense":
                grads[index] = activations[position].T @ grad
                grads[index + 1] = grad.sum(axis=0)
                grad = grad @ params[index].T
            else:
                relu -= 1
                grad = grad * masks[relu]
        return grads

    def hessian_vector(self, x: np.ndarray, v: list[np.ndarray]) -> list[np.ndarray]:
        """H v, exactly (Pearlmutter's R-operator through the forward and backward pass; ReLU masks held fixed, which is
        exact wherever the surrogate is differentiable)."""
        params = self.params
        hs, rhs, masks = [x], [np.zeros_like(x)], []
        h, rh = x, np.zeros_like(x)
        for kind, index in self.steps[:-1]:
            if kind == "dense":
                h, rh = h @ params[index] + params[index + 1], rh @ params[index] + h @ v[index] + v[index + 1]
            else:
                mask = h > 0
                masks.append(mask)
                h, rh = h * mask, rh * mask
            hs.append(h)
            rhs.append(rh)
        delta, rdelta = 2.0 * h / len(x), 2.0 * rh / len(x)
        out: list[np.ndarray | None] = [None] * len(params)
        relu = len(masks)
        for position in range(len(self.steps) - 2, -1, -1):
            kind, index = self.steps[position]
            if kind == "dense":
                out[index] = rhs[position].T @ delta + hs[position].T @ rdelta
                out[index + 1] = rdelta.sum(axis=0)
                delta, rdelta = delta @ params[index].T, rdelta @ params[index].T + delta @ v[index].T
            else:
                relu -= 1
                delta, rdelta = delta * masks[relu], rdelta * masks[relu]
        return out


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([a.ravel() for a in arrays])


def _unflat(vector: np.ndarray, like: list[np.ndarray]) -> list[np.ndarray]:
    out, start = [], 0
    for a in like:
        out.append(vector[start:start + a.size].reshape(a.shape))
        start += a.size
    return out


def hessian_scores(surrogate: Surrogate, x: np.ndarray, *, top_k: int = 3, iterations: int = 20,
                   hutchinson: int = 16, seed: int = 0) -> tuple[np.ndarray, float, list[float]]:
    """(per-parameter Hessian score sum_k lambda_k |v_k|, Hutchinson trace, the top eigenvalues)."""
    rng = np.random.default_rng(seed)
    like = surrogate.params
    n = sum(a.size for a in like)

    def hv(vector: np.ndarray) -> np.ndarray:
        return _flat(surrogate.hessian_vector(x, _unflat(vector, like)))

    eigen: list[tuple[float, np.ndarray]] = []
    for _ in range(top_k):
        v = rng.normal(size=n)
        v /= np.linalg.norm(v)
        value = 0.0
        for _ in range(iterations):
            w = hv(v)
            for lam, u in eigen:  # deflation: the found directions removed
                w -= lam * (u @ v) * u
            value = float(v @ w)
            norm = np.linalg.norm(w)
            if norm == 0:
                break
            v = w / norm
        eigen.append((value, v))
    trace = float(np.mean([z @ hv(z) for z in rng.choice([-1.0, 1.0], size=(hutchinson, n))]))
    score = sum(abs(lam) * np.abs(u) for lam, u in eigen)
    return score, trace, [lam for lam, _ in eigen]


def rank_sites(network: FixedNetwork, sites: FaultSites, site_numbers: np.ndarray, background: np.ndarray, *,
               seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, float | list[float]]]:
    """Every ranking's score of each site (higher = expected more harmful), and the Hessian's trace and top
    eigenvalues. Raises ValueError for a network the surrogate does not cover."""
    surrogate = Surrogate(network)
    x = np.asarray(background, dtype=np.float64).reshape(len(background), -1)
    table = sites.table(site_numbers)
    flip = np.abs(table.bit_value.to_numpy())  # |w' - w|: the flipped bit's value, the sign bit's included
    # which parameter element of the surrogate each site is
    offsets, position = {}, 0
    for array in sites.arrays:
        offsets[(array.layer, array.parameter)] = position
        position += array.mantissas.size
    element = np.array([offsets[(layer, parameter)] for layer, parameter in zip(table.layer, table.parameter,
                                                                                 strict=True)]) + table.element.to_numpy()
    gradient = _flat(surrogate.gradient(surrogate.params, x))
    hessian, trace, eigenvalues = hessian_scores(surrogate, x, seed=seed)
    scores = {"bit_weight": flip, "gradient": np.abs(gradient[element] * flip), "hessian": hessian[element] * flip}
    return scores, {"hessian_trace": trace, "hessian_top_eigenvalues": eigenvalues}


def score_ranking(name: str, ranking: np.ndarray, harmful: np.ndarray, points: int = 50) -> RankingScore:
    """How many of the ``harmful`` faults a ranking's top-k catches, for k on a grid (ties broken by site order)."""
    order = np.argsort(-ranking, kind="stable")
    caught = np.cumsum(harmful[order])
    n, total = len(harmful), int(harmful.sum())
    ks = np.unique(np.linspace(1, n, points).astype(int)) if n else np.array([], dtype=int)
    share = caught[ks - 1] / total if total else np.zeros(len(ks))
    recall = float(caught[total - 1] / total) if total else 1.0
    k = np.arange(1, n + 1)
    area = np.mean(caught / max(total, 1)) if n else 0.0
    oracle = np.mean(np.minimum(k, total) / max(total, 1)) if n else 0.0
    random = np.mean(k / n) if n else 0.0
    normalized = float((area - random) / (oracle - random)) if oracle > random else 0.0
    return RankingScore(name=name, recall_at_n_catastrophic=recall, normalized_area=normalized,
                        curve_k=ks.tolist(), curve_caught=[float(v) for v in share])
