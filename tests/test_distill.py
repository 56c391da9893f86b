"""Distillation: the teacher-score target transform and the teacher-student agreement metrics."""

from __future__ import annotations

import numpy as np
import pytest

from l1ad.benchmark.statistics import clopper_pearson
from l1ad.distill.agreement import agreement
from l1ad.distill.target import TargetError, TeacherTarget


def test_cicada_target_is_log_times_32_on_a_16_bit_grid_that_saturates():
    target = TeacherTarget()  # log(score) * 32 as quantized_bits(16, 8): LSB 2**-7, range [-256, 256 - 2**-7]
    assert target.lsb == 2.0**-7 and target.limits == (-256.0, 256.0 - 2.0**-7)
    scores = np.append(np.exp(np.array([0.0, 1.0, 0.5 / 32, 0.3 / 32 / 128, 1000 / 32, -300 / 32])), 0.0)
    np.testing.assert_array_equal(target.transform_scores(scores),
                                  [0.0, 32.0, 0.5, 0.0, 256.0 - 2.0**-7, -256.0, -256.0])  # log(0) saturates
    assert target.saturated(target.transform_scores(scores)).tolist() == [False] * 4 + [True] * 3
    # one LSB of the target is a factor exp(2**-7 / 32) in the teacher's score
    assert target.resolution(2.0) == pytest.approx(2.0 * np.expm1(2.0**-12))


def test_targets_keep_the_teachers_order():
    rng = np.random.default_rng(0)
    scores = np.sort(rng.lognormal(0.0, 2.0, 5000))
    for target in (TeacherTarget(), TeacherTarget("log1p", scale=1.0, bits=8, integer_bits=3),
                   TeacherTarget("identity", bits=None)):
        assert np.all(np.diff(target.transform_scores(scores)) >= 0)
    np.testing.assert_allclose(TeacherTarget("log1p", scale=1.0, bits=None).transform_scores(scores), np.log1p(scores))


@pytest.mark.parametrize(("target", "scores", "message"), [
    (TeacherTarget(), [1.0, np.nan], "NaN or infinite"),
    (TeacherTarget(), [1.0, 0.0, -2.0], "cannot take negative teacher scores; 1 of 3 are"),
    (TeacherTarget(bits=None), [1.0, 0.0, -2.0], "cannot take zero or negative teacher scores; 2 of 3"),
    (TeacherTarget("log1p"), [-1.5], "above -1"),
])
def test_bad_teacher_scores_are_one_line_errors(target, scores, message):
    with pytest.raises(TargetError, match=message) as error:
        target.transform_scores(np.array(scores))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(("options", "message"), [
    ({"transform": "sqrt"}, "unknown target transform 'sqrt'"),
    ({"scale": 0.0}, "positive number"),
    ({"bits": 8, "integer_bits": 8}, "8-bit target cannot have 8 integer bits"),
])
def test_bad_target_settings_are_refused(options, message):
    with pytest.raises(TargetError, match=message):
        TeacherTarget(**options)


def test_agreement_against_hand_computed_values():
    teacher = np.arange(10.0)
    student = np.array([0, 1, 2, 3, 4, 5, 6, 9, 8, 7], dtype=float)  # the top three in reverse order
    signals = {"sig": (np.array([8.5, 9.5, 1.0, 2.0]), np.array([9.5, 1.0, 7.5, 2.0]))}
    result = agreement(teacher, student, signals, fpr=0.2, bootstrap_samples=0)
    # 2 of 10 background events accepted each: teacher above 7 (events 8, 9), student above 7 (events 7, 8)
    assert (result.teacher_threshold, result.student_threshold) == (7.0, 7.0)
    bg = result.background
    assert (bg.n_events, bg.n_both, bg.n_teacher_only, bg.n_student_only) == (10, 1, 1, 1)
    assert bg.agreement == pytest.approx(0.8)
    # ranks differ by -2, 0, 2 on the last three events: rho = 1 - 6 * 8 / (10 * 99); the scores are the ranks
    assert result.spearman == pytest.approx(1 - 48 / 990) and result.pearson == pytest.approx(1 - 48 / 990)
    sig = result.signals["sig"]
    assert (sig.teacher, sig.student, sig.kept) == (0.5, 0.5, 1.0)
    assert sig.teacher_interval == clopper_pearson(2, 4) and sig.student_interval == clopper_pearson(2, 4)
    d = sig.decisions
    assert (d.n_both, d.n_teacher_only, d.n_student_only) == (1, 1, 1) and d.agreement == pytest.approx(0.5)
    assert np.isnan(sig.kept_interval[0])  # no bootstrap asked for


def test_kept_efficiency_interval_is_a_paired_bootstrap():
    rng = np.random.default_rng(1)
    teacher_bg, teacher_sig = rng.normal(0, 1, 20000), rng.normal(2, 1, 4000)
    noise = 0.3
    student_bg = teacher_bg + rng.normal(0, noise, teacher_bg.shape)
    student_sig = teacher_sig + rng.normal(0, noise, teacher_sig.shape)
    result = agreement(teacher_bg, student_bg, {"sig": (teacher_sig, student_sig)}, fpr=0.01, seed=3)
    sig = result.signals["sig"]
    lo, hi = sig.kept_interval
    assert lo < sig.kept < hi and 0.6 < sig.kept < 1.0  # a noisier copy keeps most, not all, of the efficiency
    # paired: far narrower than the two efficiencies' own intervals would allow if they were independent
    independent = (sig.student_interval[0] / sig.teacher_interval[1], sig.student_interval[1] / sig.teacher_interval[0])
    assert hi - lo < 0.8 * (independent[1] - independent[0])
    assert result.background.n_both > 0 and result.spearman > 0.9


def test_agreement_refuses_scores_of_different_events():
    with pytest.raises(ValueError, match="same events"):
        agreement(np.arange(10.0), np.arange(9.0), {}, fpr=0.1)
    with pytest.raises(ValueError, match="signal 'sig'"):
        agreement(np.arange(10.0), np.arange(10.0), {"sig": (np.ones(3), np.ones(4))}, fpr=0.1)
