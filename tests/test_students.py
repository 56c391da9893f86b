"""Students: augmentation, training on a teacher's targets, ``l1ad distill`` end to end, and its bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.stats import spearmanr

from l1ad.benchmark.trigger.layout import N_REGION_PHI
from l1ad.config.distill import AugmentationConfig, StudentConfig, load_student_config
from l1ad.distill.augment import augmented_copies, rotate_objects, rotate_regions, shuffle_objects
from l1ad.distill.report import read_report
from l1ad.errors import ConfigError

STUDENT_YAML = """\
name: test_student
seed: 3
student:
  name: {model}
  label: {label}
  encoder_units: [16, 8]
  quantization: {{weight_bits: 8, weight_integer_bits: 2, activation_bits: 10, activation_integer_bits: 5,
                 input_bits: 16, input_integer_bits: 7}}
  params: {params}
training: {{epochs: 30, batch_size: 256, learning_rate: 0.003, early_stopping_patience: 5}}
augmentation: {{copies: 1, phi_rotation: true, shuffle: {shuffle}}}
"""


def student_file(tmp_path, model="student_dense", label="test_student", shuffle="true", params="{loss: mae}"):
    path = tmp_path / f"{label}.yaml"
    path.write_text(STUDENT_YAML.format(model=model, label=label, shuffle=shuffle, params=params))
    return path


def _events(rng, n=50):
    """(n, 19, 4) trigger objects (pt, eta, phi, type) with the last slots of each class padded with zeros."""
    x = np.zeros((n, 19, 4), dtype=np.float32)
    x[:, :, 0] = rng.exponential(10.0, (n, 19))
    x[:, :, 1] = rng.uniform(-2.5, 2.5, (n, 19))
    x[:, :, 2] = rng.uniform(-np.pi, np.pi, (n, 19))
    x[:, :, 3] = 1.0
    x[:, [4, 8, 18]] = 0.0  # a padded e/gamma, muon and jet slot
    return x


def test_phi_rotation_turns_whole_events_and_leaves_padding_alone():
    rng = np.random.default_rng(0)
    x = _events(rng)
    y = rotate_objects(x, np.random.default_rng(1))
    present = x[:, :, 0] > 0
    np.testing.assert_array_equal(y[:, :, [0, 1, 3]], x[:, :, [0, 1, 3]])
    np.testing.assert_array_equal(y[~present], x[~present])
    assert np.all((y[:, :, 2] >= -np.pi) & (y[:, :, 2] < np.pi))
    # one angle per event: every present object's phi moves by the same amount (mod 2 pi)
    turn = np.angle(np.exp(1j * (y[:, :, 2] - x[:, :, 2])))
    spread = np.ptp(np.where(present, turn, turn[:, :1]), axis=1)
    assert np.all(spread < 1e-5) and np.std(turn[:, 0]) > 1.0


def test_shuffling_permutes_slots_within_each_class_only():
    x = _events(np.random.default_rng(0), n=200)
    y = shuffle_objects(x, np.random.default_rng(2))
    np.testing.assert_array_equal(y[:, 0], x[:, 0])  # MET stays
    for start, stop in ((1, 5), (5, 9), (9, 19)):  # e/gamma, muons, jets
        np.testing.assert_array_equal(np.sort(y[:, start:stop, 0], axis=1), np.sort(x[:, start:stop, 0], axis=1))
    assert not np.array_equal(y, x)


def test_region_rotation_rolls_whole_iphi_rows():
    regions = np.random.default_rng(0).random((30, N_REGION_PHI, 14))
    rolled = rotate_regions(regions, np.random.default_rng(3))
    for event, out in zip(regions, rolled, strict=True):
        assert any(np.array_equal(np.roll(event, k, axis=0), out) for k in range(N_REGION_PHI))
    assert not np.array_equal(rolled, regions)


def test_augmented_copies_are_reproducible_and_counted():
    x = _events(np.random.default_rng(0))
    config = AugmentationConfig(copies=2, shuffle=True)
    a = augmented_copies(x, config, regions=False, rng=np.random.default_rng(5))
    b = augmented_copies(x, config, regions=False, rng=np.random.default_rng(5))
    assert a.shape == (100, 19, 4) and np.array_equal(a, b)
    assert augmented_copies(x, AugmentationConfig(), regions=False, rng=np.random.default_rng(5)).shape == (0, 19, 4)


def test_student_configs_are_validated(tmp_path):
    assert {"cicada_v1", "cicada_v2", "dense_student"} <= {load_student_config(n).name for n in
                                                           ("cicada_v1", "cicada_v2", "dense_student")}
    with pytest.raises(ConfigError, match="'dense_ae' is not a student model"):
        load_student_config(student_file(tmp_path, model="dense_ae", params="{}"))
    with pytest.raises(ConfigError, match="shuffle permutes trigger objects"):
        load_student_config(student_file(tmp_path, model="student_regions", label="r"))


def test_a_student_learns_its_teachers_order_and_survives_save_and_load(tiny_run, tiny_dataset, tmp_path):
    from l1ad.distill.fit import fit_student
    from l1ad.models.registry import load_detector

    teacher = load_detector(tiny_run.paths.model)
    config = load_student_config(student_file(tmp_path))
    student, data = fit_student(teacher, config, tiny_dataset)
    n = len(tiny_dataset.background("train").particles)
    assert data.n_background == n and len(data.train) == 2 * n  # one augmented copy
    # the teacher's order on unseen events, learned: rank correlation well above chance
    test = teacher.inputs_of(tiny_dataset.background("test"))
    rho = spearmanr(teacher.score_samples(test), student.score_samples(test)).statistic
    assert rho > 0.5, rho
    # better than predicting the mean target
    mae = np.abs(student.score_samples(data.validation) - data.validation_targets).mean()
    assert mae < np.abs(data.validation_targets - np.median(data.train_targets)).mean()
    again = load_detector(student.save(tmp_path / "student"))
    np.testing.assert_array_equal(again.score_samples(test), student.score_samples(test))


def test_student_targets_must_match_the_events(tiny_run):
    from l1ad.config.run import ModelConfig
    from l1ad.errors import DataFileError
    from l1ad.models.registry import new_detector

    student = new_detector(ModelConfig(name="student_dense", encoder_units=[4]))
    x = np.zeros((10, 19, 4), dtype=np.float32)
    with pytest.raises(DataFileError, match=r"training targets: expected one per event, shape \(10,\)"):
        student.fit(x, np.zeros(9))
    with pytest.raises(DataFileError, match="training targets: 1 are NaN or Inf"):
        student.fit(x, np.r_[np.zeros(9), np.nan])


def test_distill_cli_trains_evaluates_converts_and_compares(tiny_run, run_cli, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(tiny_run.paths.root / "dataset", root / "dataset")
    shutil.copytree(tiny_run.paths.model, root / "models" / "dense_ae")
    code, out, err = run_cli("distill", "-c", "tiny", "-o", root, "--teacher", "dense_ae",
                             "--student", student_file(tmp_path, label="s1"), "--firmware")
    assert code == 0, err
    assert "distilled s1 from dense_ae" in out and "teacher vs student on background_test: Pearson" in out

    report = read_report(root / "distill" / "s1")
    assert report.teacher == "dense_ae" and report.student == "s1" and report.rate_khz == 300
    assert set(report.agreement.signals) == {"ttbar", "htautau", "zll", "ato4l"}
    for kept in report.agreement.signals.values():
        assert kept.kept == pytest.approx(kept.student / kept.teacher)
        assert kept.kept_interval[0] <= kept.kept <= kept.kept_interval[1]
    assert (root / "distill" / "s1" / "student_vs_teacher.png").stat().st_size > 0
    card = json.loads((root / "models" / "s1" / "model.json").read_text())
    assert card["provenance"]["teacher"]["label"] == "dense_ae"
    # the student is an ordinary model: its evaluation and its firmware, the score being its own output
    assert (root / "evaluation" / "s1" / "metrics.csv").is_file()
    firmware = json.loads((root / "firmware" / "s1" / "firmware.json").read_text())
    emulation = firmware["emulation"]
    assert emulation["score"].startswith("firmware: the network's single output")
    assert all(sample["n_events_differing"] == 0 for sample in emulation["agreement"])
    # ... its fault campaign and its leaderboard entry
    code, out, err = run_cli("faults", "-c", "tiny", "-o", root, "--models", "s1", "--workers", "0")
    assert code == 0, err
    assert (root / "faults" / "s1" / "fault_report.json").is_file()
    code, out, err = run_cli("leaderboard", "-c", "tiny", "-o", root, "--model", "s1", "--board", tmp_path / "board")
    assert code == 0, err
    board = json.loads((tmp_path / "board" / "board.json").read_text())
    assert [entry["model"] for entry in board["entries"]] == ["s1"]


def test_distill_bad_input_is_one_line(tiny_run, run_cli, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(tiny_run.paths.root / "dataset", root / "dataset")
    shutil.copytree(tiny_run.paths.model, root / "models" / "dense_ae")
    good = student_file(tmp_path)
    code, _, err = run_cli("distill", "-c", "tiny", "-o", root, "--teacher", tmp_path, "--student", good)
    assert code == 2 and "not a saved model" in err and err.count("\n") == 1
    code, _, err = run_cli("distill", "-c", "tiny", "-o", root, "--teacher", "nope", "--student", good)
    assert code == 2 and "teacher 'nope': not a saved model" in err and err.count("\n") == 1
    regions = student_file(tmp_path, model="student_regions", label="r", shuffle="false")
    code, _, err = run_cli("distill", "-c", "tiny", "-o", root, "--teacher", "dense_ae", "--student", regions)
    assert code == 2 and "reads calorimeter regions, but the teacher 'dense_ae' reads trigger objects" in err
    assert err.count("\n") == 1
    code, _, err = run_cli("distill", "-c", "tiny", "-o", root, "--teacher", "dense_ae", "--student", "nope")
    assert code == 2 and "nope" in err and err.count("\n") == 1
    code, _, err = run_cli("distill", "-c", "tiny", "-o", root, "--teacher", "dense_ae", "--student", good, "--sweep")
    assert code == 2 and "has no sweep" in err and err.count("\n") == 1
    code, _, err = run_cli("leaderboard", "-c", "tiny", "-o", root, "--model", "nope")
    assert code == 2 and "models/nope: no trained model" in err and err.count("\n") == 1
    assert not (root / "models" / "r").exists()


def test_student_config_round_trips():
    config = load_student_config("cicada_v1")
    assert StudentConfig.model_validate(config.model_dump()) == config


@pytest.mark.parametrize("body", ["model: {name: student_dense, encoder_units: [8]}",
                                  "bench: [{name: dense_ae}, {name: student_conv, encoder_units: [8]}]"])
def test_a_run_config_cannot_train_a_student(tmp_path, body):
    from l1ad.config import load_config

    path = tmp_path / "run.yaml"
    path.write_text(f"name: x\noutput_dir: {tmp_path}\ndataset: {{name: zb, size: tiny}}\n{body}\n")
    with pytest.raises(ConfigError, match="is a student: it learns a teacher's score, so 'l1ad distill"):
        load_config(path)


def test_sweep_variants_and_their_cost_by_hand(tmp_path):
    from l1ad.distill.sweep import keras_cost, sweep_configs
    from l1ad.models.registry import new_detector

    config = load_student_config("dense_student")
    variants = sweep_configs(config)
    assert [v.student.run_label for v in variants] == ["dense_student_8_w6", "dense_student_8_w8",
                                                         "dense_student_16x8_w6", "dense_student_16x8_w8",
                                                         "dense_student_32x16_w6", "dense_student_32x16_w8"]
    assert all(v.sweep is None and v.target == config.target for v in variants)
    small = variants[0].student
    assert small.encoder_units == [8] and small.quantization.weight_bits == 6
    detector = new_detector(small)
    detector._start(np.abs(_events(np.random.default_rng(0))))  # builds the network
    # 57 -> 8 -> 1: 57 x 8 + 8 + 8 + 1 parameters; 57 x 8 products of 6-bit weights and 16-bit inputs, 8 of 6-bit
    # weights and 10-bit activations
    assert keras_cost(detector.keras_model, small.quantization) == (57 * 8 + 8 + 8 + 1,
                                                                    57 * 8 * 6 * 16 + 8 * 6 * 10)


def test_sweep_writes_its_table_plot_and_bench_comparison(tiny_run, run_cli, tmp_path):
    from l1ad.distill.sweep import read_sweep

    root = tmp_path / "run"
    shutil.copytree(tiny_run.paths.root / "dataset", root / "dataset")
    shutil.copytree(tiny_run.paths.model, root / "models" / "dense_ae")
    path = tmp_path / "sweep.yaml"
    path.write_text(student_file(tmp_path, label="sw").read_text().replace("epochs: 30", "epochs: 3")
                    + "sweep: {encoder_units: [[4], [8]], weight_bits: [6]}\n")
    code, out, err = run_cli("distill", "-c", "tiny", "-o", root, "--teacher", "dense_ae", "--student", path,
                             "--sweep")
    assert code == 0, err
    report = read_sweep(root / "distill" / "sweep_test_student")
    assert [r.student for r in report.rows] == ["sw_4_w6", "sw_8_w6"] and report.rate == "300 kHz"
    assert report.rows[0].cost.lut is None and report.rows[0].cost.parameters < report.rows[1].cost.parameters
    assert report.teacher == "dense_ae" and report.teacher_cost.parameters > report.rows[1].cost.parameters
    for row in report.rows:  # the same numbers as each student's own distillation report
        kept = read_report(root / "distill" / row.student).agreement.signals
        assert row.kept == {s: k.kept for s, k in kept.items()}
    table = (root / "distill" / "sweep_test_student" / "sweep.md").read_text()
    assert "| sw_4_w6 | 4 | 6 |" in table and "not synthesized" in table
    for name in ("sweep.png", "sweep.csv", "results.md", "results.png"):
        assert (root / "distill" / "sweep_test_student" / name).stat().st_size > 0


def test_exposure_events_come_from_another_dataset_only(tiny_run, tiny_dataset, tmp_path):
    from l1ad.benchmark.datasets.dataset import load_dataset
    from l1ad.config import load_config
    from l1ad.distill.fit import distillation_data
    from l1ad.models.registry import load_detector
    from l1ad.pipeline.context import RunContext
    from l1ad.pipeline.stages import generate_data

    teacher = load_detector(tiny_run.paths.model)
    base = student_file(tmp_path).read_text()
    same = tmp_path / "same.yaml"
    same.write_text(base + f"exposure: {{dataset: {tiny_run.paths.dataset}, samples: [ttbar]}}\n")
    with pytest.raises(ConfigError, match="is the dataset the student is evaluated on; its samples are test events"):
        distillation_data(teacher, load_student_config(same), tiny_dataset)

    # the shipped exposure dataset: processes that none of zb's signals is
    other_cfg = load_config("tiny", dataset="zb_exposure", size="tiny", output_dir=str(tmp_path / "other"))
    other = generate_data(RunContext.create(other_cfg, log=lambda *_: None))
    assert other.digest != tiny_dataset.digest and not set(other.signal_names) & set(tiny_dataset.signal_names)
    exposed = tmp_path / "exposed.yaml"
    exposed.write_text(base + f"exposure: {{dataset: {other.directory}, samples: [wlnu, lq_btau], events: 150}}\n")
    data = distillation_data(teacher, load_student_config(exposed), tiny_dataset)
    n = len(tiny_dataset.background("train").particles)
    assert data.n_exposure == 300 and len(data.train) == 2 * n + 300
    wlnu = teacher.inputs_of(load_dataset(other.directory).sample("wlnu"))[:150]
    np.testing.assert_array_equal(data.train[2 * n : 2 * n + 150], wlnu)
