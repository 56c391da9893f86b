"""Bad input of every kind ends as one line ``l1ad: error: ...`` (exit 2) naming the file or key, and changes nothing.

Each case here was found by trying the suite as a hostile user would; the classes are: data that could be lost,
tracebacks instead of the one-line error, input that used to be accepted silently, and resource blow-ups.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import example_board, tree_snapshot

from l1ad.benchmark.trigger.layout import PARTICLE_CLASSES, PARTICLE_NAMES
from l1ad.errors import L1adError

TINY = "name: t\noutput_dir: {out}\ndataset: {{name: zb, size: tiny}}\n"


def _config(tmp_path: Path, extra: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(TINY.format(out=tmp_path / "run") + extra)
    return path


def _one_line_error(run_cli, *args) -> str:
    code, out, err = run_cli(*args)
    assert code == 2, (out, err)
    assert err.startswith("l1ad: error: ") and err.count("\n") == 1, err
    return err


# -- configs: checked before any work ---------------------------------------------------------------------------
@pytest.mark.parametrize(("extra", "expected"), [
    ("model: {label: '.'}\n", "model.label"),
    ("model: {label: '..'}\n", "model.label"),
    ("model: {label: 'a/b'}\n", "model.label"),
    ("model: {encoder_units: [0, 16]}\n", "model.encoder_units.0"),
    ("model: {encoder_units: [-3]}\n", "model.encoder_units.0"),
    ("model: {encoder_units: [200000000, 16]}\n", "model.encoder_units.0"),
    ("model: {encoder_units: [4096, 4096, 4096]}\n", "weights, above the limit"),
    ("model: {encoder_units: [" + ", ".join(["8"] * 3000) + "]}\n", "model.encoder_units"),
    ("training: {epochs: true}\n", "training.epochs"),
    ("training: {epochs: '5'}\n", "training.epochs"),
    ("evaluation: {rates_khz: [30000]}\n", "not below the collision rate"),
    ("evaluation: {rates_khz: [.inf]}\n", "evaluation.rates_khz"),
    ("evaluation: {rates_khz: [.nan]}\n", "evaluation.rates_khz"),
    ("evaluation: {leaderboard_rate_khz: 28610}\n", "not below the collision rate"),
    ("evaluation: {bootstrap_samples: 100000000}\n", "evaluation.bootstrap_samples"),
    ("firmware: {default_precision: 'int'}\n", "firmware.default_precision"),
    ("firmware: {layer_precision: {dense: 'ap_fixed<8>'}}\n", "firmware.layer_precision.dense"),
    ("firmware: {part: xc7a35t}\n", "unknown FPGA part 'xc7a35t'; known: VU13P (xcvu13p-flga2577-2-e), VU9P"),
    ("leaderboard: {submitter: \"a\\nb\"}\n", "leaderboard.submitter"),
    ("seed: 1\nseed: 2\n", "key 'seed' is given twice"),
    ("model: {name: gmm, params: {n_components: 1e12}}\n", "n_components must"),
    ("model: {name: gmm, params: {n_components: 'many'}}\n", "n_components must be a int"),
])
def test_bad_config_values_are_one_line_errors(tmp_path, run_cli, extra, expected):
    err = _one_line_error(run_cli, "config", "-c", _config(tmp_path, extra))
    assert expected in err


@pytest.mark.parametrize(("content", "expected"), [
    ("name: t\n".encode("utf-16"), "not UTF-8 text"),
    (bytes(range(256)) * 4, "not UTF-8 text"),
    (b"name: t\x00\n", "NUL bytes"),
])
def test_binary_and_utf16_configs_are_refused(tmp_path, run_cli, content, expected):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    assert expected in _one_line_error(run_cli, "config", "-c", path)


def test_negative_workers_is_a_one_line_usage_error(tmp_path, run_cli, capsys):
    with pytest.raises(SystemExit) as stop:
        run_cli("data", "generate", "-c", "tiny", "-o", tmp_path, "--workers", "-1")
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("l1ad: error: argument --workers") and err.count("\n") == 1


# -- data files --------------------------------------------------------------------------------------------------
def _sample_file(path: Path, *, particles=None, names=PARTICLE_NAMES, as_group=False) -> Path:
    if particles is None:
        particles = np.zeros((5, 19, 4), dtype=np.float32)
        particles[:, 0, 0] = 10.0
    with h5py.File(path, "w") as f:
        if as_group:
            f.create_group("Particles")
        else:
            f.create_dataset("Particles", data=particles)
        if names is not None:
            f.create_dataset("Particles_Names", data=np.array(names, dtype="S"))
        f.create_dataset("Particles_Classes", data=np.array(PARTICLE_CLASSES, dtype="S"))
    return path


@pytest.mark.parametrize(("make", "expected"), [
    (lambda p: _sample_file(p, particles=np.array([["x"] * 4] * 19 * 3, dtype="S").reshape(3, 19, 4)),
     "'Particles' has type |S1, expected floating point"),
    (lambda p: _sample_file(p, as_group=True), "'Particles' is an HDF5 group, not a dataset"),
    (lambda p: _sample_file(p, particles=np.ones((3, 19, 4), dtype=np.int32)), "expected floating point"),
    (lambda p: _sample_file(p, particles=np.ones((3, 19, 4), dtype=np.complex64)), "expected floating point"),
    (lambda p: _sample_file(p, particles=-np.ones((3, 19, 4), dtype=np.float32)), "negative pT in 3 events"),
    (lambda p: _sample_file(p, names=None), "'Particles_Names' is missing"),
    (lambda p: _sample_file(p, names=("Eta", "Pt", "Phi", "Class")), "'Particles_Names' is ['Eta', 'Pt', 'Phi'"),
])
def test_malformed_sample_files_are_one_line_errors_naming_the_file(tmp_path, run_cli, make, expected):
    path = make(tmp_path / "bad.h5")
    err = _one_line_error(run_cli, "data", "inspect", path)
    assert str(path) in err and expected in err


@pytest.mark.parametrize("manifest", [
    [], None, "x", {"name": "zb"},
    "samples-without-file", "file-outside-the-directory", "digest-missing",
])
def test_malformed_manifests_are_one_line_errors(tiny_dataset, tmp_path, run_cli, manifest):
    good = json.loads((tiny_dataset.directory / "dataset.json").read_text())
    if manifest == "samples-without-file":
        manifest = {**good, "samples": {"x": {k: v for k, v in good["samples"]["ttbar"].items() if k != "file"}}}
    elif manifest == "file-outside-the-directory":
        manifest = {**good, "samples": {**good["samples"], "ttbar": {**good["samples"]["ttbar"], "file": "../../x.h5"}}}
    elif manifest == "digest-missing":
        manifest = {k: v for k, v in good.items() if k != "digest"}
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "dataset.json").write_text(json.dumps(manifest))
    err = _one_line_error(run_cli, "data", "inspect", directory)
    assert "dataset.json: invalid dataset manifest" in err


# -- model directories -------------------------------------------------------------------------------------------
def _copy_model(tiny_run, tmp_path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(tiny_run.paths.dataset, target / "dataset")
    shutil.copytree(tiny_run.paths.model, target / "models" / "dense_ae")
    return target


@pytest.mark.slow
@pytest.mark.parametrize(("damage", "expected"), [
    (lambda m: m.update(seed="abc"), "model.json: invalid model metadata (seed"),
    (lambda m: m["model"].update(encoder_units=[-1]), "model.json: invalid model metadata (model.encoder_units.0"),
])
def test_tampered_model_card_is_a_one_line_error(tiny_run, tmp_path, run_cli, damage, expected):
    root = _copy_model(tiny_run, tmp_path)
    card_path = root / "models" / "dense_ae" / "model.json"
    card = json.loads(card_path.read_text())
    damage(card)
    card_path.write_text(json.dumps(card))
    before = tree_snapshot(root)
    assert expected in _one_line_error(run_cli, "evaluate", "-c", "tiny", "-o", root)
    assert {k: v for k, v in tree_snapshot(root).items() if "mlflow" not in k and "mlartifacts" not in k} == \
        {k: v for k, v in before.items() if "mlflow" not in k}


@pytest.mark.slow
def test_zero_scale_and_nan_weights_are_refused_at_load(tiny_run, tmp_path):
    from l1ad.errors import ModelFileError
    from l1ad.models.registry import load_detector

    root = _copy_model(tiny_run, tmp_path)
    model = root / "models" / "dense_ae"
    prep = json.loads((model / "preprocessing.json").read_text())
    (model / "preprocessing.json").write_text(json.dumps({**prep, "scale": [0.0] * 19}))
    with pytest.raises(ModelFileError, match=r"preprocessing.json: invalid preprocessing \(a PtScaler scale must be"):
        load_detector(model)
    (model / "preprocessing.json").write_text(json.dumps(prep))
    with h5py.File(model / "weights.h5", "r+") as f:
        def poison(name, item):
            if isinstance(item, h5py.Dataset) and item.ndim == 2:
                item[0, 0] = np.nan
        f.visititems(poison)
    with pytest.raises(ModelFileError, match="weights.h5: NaN or Inf weights"):
        load_detector(model)


# -- stage outputs -----------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("file", "content", "expected"), [
    ("evaluation/dense_ae/metrics.json", "truncate", "metrics.json: corrupt metrics"),
    ("evaluation/dense_ae/metrics.json", "no-headline", "no rows at the headline working point"),
    ("firmware/dense_ae/firmware.json", "{]", "firmware.json: corrupt firmware report"),
])
def test_damaged_stage_outputs_are_one_line_errors(tiny_run, tmp_path, run_cli, file, content, expected):
    root = tmp_path / "run"
    shutil.copytree(tiny_run.paths.root, root, ignore=shutil.ignore_patterns("hls4ml_prj", "mlartifacts", "mlflow.db"))
    path = root / file
    if content == "truncate":
        path.write_text(path.read_text()[:200])
    elif content == "no-headline":
        report = json.loads(path.read_text())
        report["rows"] = [r for r in report["rows"] if r["working_point"] != report["headline"]]
        path.write_text(json.dumps(report))
    else:
        path.write_text(content)
    assert expected in _one_line_error(run_cli, "leaderboard", "-c", "tiny", "-o", root, "--board", tmp_path / "b")
    assert not (tmp_path / "b" / "board.json").exists()


@pytest.mark.parametrize(("board", "expected"), [
    ({"schema": "l1ad-leaderboard/3"}, "entries: missing required key"),
    (None, "invalid leaderboard"),
    ([], "invalid leaderboard"),
    ("entries-with-empty-signals", "signals"),
    ("entries-with-string-efficiency", "efficiency"),
])
def test_malformed_boards_are_refused_and_not_overwritten(tmp_path, board, expected):
    from l1ad.leaderboards.board import read_board

    if isinstance(board, str):
        entry = example_board()["entries"][0]
        if board == "entries-with-empty-signals":
            entry["signals"] = {}
        else:
            next(iter(entry["signals"].values()))["efficiency"] = "0.5"
        board = {"schema": "l1ad-leaderboard/3", "entries": [entry]}
    (tmp_path / "board.json").write_text(json.dumps(board))
    with pytest.raises(L1adError, match=expected) as refused:
        read_board(tmp_path)
    assert "not overwriting it" in str(refused.value) and "\n" not in str(refused.value)


# -- rendering ---------------------------------------------------------------------------------------------------
def test_text_fields_are_escaped_in_markdown():
    from l1ad.leaderboards.board import Entry, render_markdown

    entry = example_board()["entries"][0]
    entry.update(model="x | injected | row\n| 1 |", submitter="<script>alert(1)</script> [link](http://evil)")
    markdown = render_markdown([Entry.model_validate(entry)])
    row = next(line for line in markdown.splitlines() if "injected" in line)
    assert row.count(" | ") == markdown.splitlines()[markdown.splitlines().index(row) - 2].count(" | ")
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown and "](http" not in markdown


# -- writes that cannot lose data --------------------------------------------------------------------------------
def _submit_rounds(board_dir: str, worker: int, rounds: int) -> None:
    """One process's share of the stress test: a distinct entry per round."""
    from l1ad.leaderboards.board import Entry, submit

    template = example_board()["entries"][0]
    for r in range(rounds):
        submit(board_dir, Entry.model_validate({**template, "model": f"w{worker}_r{r}"}))


def test_six_writers_lose_no_entry_and_the_board_always_parses(tmp_path):
    import multiprocessing

    from l1ad.leaderboards.board import read_board

    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_submit_rounds, args=(str(tmp_path), w, 20)) for w in range(6)]
    for w in workers:
        w.start()
    seen = 0
    while any(w.is_alive() for w in workers):  # the file parses whenever a reader looks
        if (tmp_path / "board.json").exists():
            seen = max(seen, len(read_board(tmp_path)))
    for w in workers:
        w.join()
        assert w.exitcode == 0
    entries = read_board(tmp_path)
    assert sorted(e.model for e in entries) == sorted(f"w{w}_r{r}" for w in range(6) for r in range(20))
    assert not list(tmp_path.glob("*.tmp")) and seen <= 120


@pytest.mark.slow
def test_six_cli_writers_lose_no_entry(tiny_run, tmp_path):
    """The same through the command line: six concurrent 'l1ad leaderboard' processes per round.

    Each process costs ~7 s of CPU here (Python, MLflow and its store), so the default run does one round (six writers
    racing for the board); ``L1AD_STRESS_ROUNDS=20`` runs 20 (about 7 minutes).
    """
    import os
    import subprocess
    import sys

    from l1ad.leaderboards.board import read_board

    l1ad = str(Path(sys.executable).with_name("l1ad"))
    configs = []
    for w in range(6):
        text = (Path(__file__).parents[1] / "src" / "l1ad" / "configs" / "tiny.yaml").read_text()
        configs.append(tmp_path / f"c{w}.yaml")
        configs[-1].write_text(text.replace("leaderboard:\n", f"leaderboard:\n  submitter: writer {w}\n"))
    board = tmp_path / "board"
    for _round in range(int(os.environ.get("L1AD_STRESS_ROUNDS", "1"))):
        procs = [subprocess.Popen([l1ad, "-q", "leaderboard", "-c", str(c), "-o", str(tiny_run.paths.root),
                                   "--board", str(board), "--tracking-uri", f"sqlite:///{tmp_path / f'm{w}.db'}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for w, c in enumerate(configs)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        assert len(read_board(board)) == 6
    assert sorted(e.submitter for e in read_board(board)) == [f"writer {w}" for w in range(6)]


@pytest.mark.slow
def test_rerunning_leaves_the_board_byte_identical(tiny_run, tmp_path):
    from l1ad.pipeline import stages

    metrics, firmware = stages.open_metrics(tiny_run), stages.open_firmware_report(tiny_run)
    stages.leaderboard(tiny_run, metrics, firmware, tmp_path)
    before = tree_snapshot(tmp_path)
    stages.leaderboard(tiny_run, metrics, firmware, tmp_path)  # a later day or commit: same result
    assert tree_snapshot(tmp_path) == before


# -- runs that are self-contained --------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_copied_run_writes_its_artifacts_into_the_copy(tiny_run, tmp_path, run_cli):
    original = tiny_run.paths.root / "mlartifacts"
    before = {str(p) for p in original.rglob("*")}
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run.paths.root, copy, ignore=shutil.ignore_patterns("hls4ml_prj"))
    code, _, err = run_cli("-q", "evaluate", "-c", "tiny", "-o", copy)
    assert code == 0, err
    assert {str(p) for p in original.rglob("*")} == before
    assert any(p.name == "metrics.json" for p in (copy / "mlartifacts").rglob("*") if p.stat().st_mtime > 0)


@pytest.mark.slow
def test_a_model_from_another_dataset_is_refused_and_kept_off_the_board(tiny_run, tmp_path, run_cli):
    root = tmp_path / "run"
    shutil.copytree(tiny_run.paths.dataset, root / "dataset")
    shutil.copytree(tiny_run.paths.model, root / "models" / "dense_ae")
    manifest = json.loads((root / "dataset" / "dataset.json").read_text())
    (root / "dataset" / "dataset.json").write_text(json.dumps({**manifest, "digest": "0123456789ab"}))
    err = _one_line_error(run_cli, "evaluate", "-c", "tiny", "-o", root)
    assert "was trained on dataset" in err and "--other-dataset" in err
    code, _, err = run_cli("-q", "evaluate", "-c", "tiny", "-o", root, "--other-dataset")
    assert code == 0, err
    err = _one_line_error(run_cli, "leaderboard", "-c", "tiny", "-o", root, "--board", tmp_path / "board")
    assert "does not go on the leaderboard" in err and not (tmp_path / "board" / "board.json").exists()


def test_missing_run_directory_names_the_command_that_makes_it(tmp_path, run_cli):
    err = _one_line_error(run_cli, "train", "-c", "tiny", "-o", tmp_path / "nothing-here")
    assert "dataset.json: no dataset; run 'l1ad data generate' first" in err


# -- interrupts --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_during_generation_is_one_line_and_leaves_no_partial_file(tmp_path):
    """SIGINT to the whole process group (what Ctrl-C does) while two Dask workers generate."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([str(Path(sys.executable).with_name("l1ad")), "-q", "data", "generate", "-c", "tiny", "-o",
                             str(out), "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out / "dataset").is_dir() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(10)  # the workers are generating shards now
    assert proc.poll() is None, "generation finished before the interrupt"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "l1ad: interrupted"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    for h5 in out.rglob("*.h5"):  # whatever was finished is whole
        with h5py.File(h5, "r") as f:
            assert "Particles" in f


# -- newcomer friction -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["data", "generate"], ["data", "inspect"], ["config"], ["bench"]])
def test_every_command_explains_itself(command, capsys):
    from l1ad.cli import main

    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]
    assert not description.startswith(("positional", "options")), text  # a description comes before the arguments
    if "--size" in text:
        assert "{tiny,default,large}" in text


def test_config_shows_network_settings_only_for_networks(run_cli):
    import yaml

    code, out, _ = run_cli("config", "-c", "default")
    assert code == 0
    bench = {m["label"] or m["name"]: m for m in yaml.safe_load(out)["bench"]}
    assert "encoder_units" in bench["dense_ae"] and "quantization" in bench["dense_ae"]
    assert not {"encoder_units", "latent_dim", "quantization"} & set(bench["gmm"])
