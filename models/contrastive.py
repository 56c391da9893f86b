"""Contrastive losses on two batches of projections ``z1``, ``z2`` (B, D) whose rows i are a positive pair.

* :func:`nt_xent`: SimCLR's normalised temperature-scaled cross entropy (Chen et al. 2020; JetCLR, RS3L): rows are
  L2-normalised, each of the 2B rows must pick its partner among the other 2B - 1 by cosine similarity / temperature;
  the mean over the 2B rows.
* :func:`vicreg`: VICReg (Bardes, Ponce, LeCun 2022; MACK): invariance = mean squared difference of the pairs;
  variance = mean over dimensions of max(0, 1 - sqrt(Var + 1e-4)) per branch (unbiased variance); covariance = the sum
  of squared off-diagonal covariances / D per branch; weighted sum, both branches counted.
"""

from __future__ import annotations

import numpy as np

from l1ad.config.robustness import VicregWeights

VARIANCE_EPSILON = 1e-4


def nt_xent(z1, z2, temperature: float):
    import tensorflow as tf

    z = tf.math.l2_normalize(tf.concat([z1, z2], axis=0), axis=1)
    n = tf.shape(z1)[0]
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits -= tf.eye(2 * n, dtype=logits.dtype) * 1e9  # a row is never its own partner
    partners = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(partners, logits, from_logits=True))


def vicreg_terms(z1, z2):
    """(invariance, variance, covariance) of a batch of pairs, each term summed over both branches."""
    import tensorflow as tf

    invariance = tf.reduce_mean(tf.square(z1 - z2))
    variance = covariance = 0.0
    for z in (z1, z2):
        n = tf.cast(tf.shape(z)[0], z.dtype)
        d = tf.cast(tf.shape(z)[1], z.dtype)
        centred = z - tf.reduce_mean(z, axis=0, keepdims=True)
        cov = tf.matmul(centred, centred, transpose_a=True) / (n - 1)
        std = tf.sqrt(tf.linalg.diag_part(cov) + VARIANCE_EPSILON)
        variance += tf.reduce_mean(tf.nn.relu(1.0 - std))
        off_diagonal = cov - tf.linalg.diag(tf.linalg.diag_part(cov))
        covariance += tf.reduce_sum(tf.square(off_diagonal)) / d
    return invariance, variance, covariance


def vicreg(z1, z2, weights: VicregWeights):
    invariance, variance, covariance = vicreg_terms(z1, z2)
    return weights.invariance * invariance + weights.variance * variance + weights.covariance * covariance


def training_step(loss_of, variables, learning_rate: float):
    """One Adam step on ``loss_of(a, b)`` over ``variables``, as a compiled function of two view batches."""
    import tensorflow as tf

    optimizer = tf.keras.optimizers.Adam(learning_rate)

    @tf.function(reduce_retracing=True)
    def step(a, b):
        with tf.GradientTape() as tape:
            loss = loss_of(a, b)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return step


def train_epoch(step, a, b, batch: int, rng) -> float:
    """One pass over the pairs (a[i], b[i]) in a random order, in full batches of ``batch``; the mean loss."""
    import tensorflow as tf

    order = rng.permutation(len(a))
    return float(np.mean([float(step(tf.constant(a[idx]), tf.constant(b[idx])))
                          for idx in (order[i:i + batch] for i in range(0, len(order) - batch + 1, batch))]))
