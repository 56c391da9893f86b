import pytest

from l1ad.config import load_config, shipped_configs
from l1ad.errors import L1adError


def test_shipped_configs_validate():
    assert {"default", "tiny"} <= set(shipped_configs())
    for name in shipped_configs():
        cfg = load_config(name)
        assert cfg.name == name
        assert cfg.dataset.signals


def test_digest_tracks_content(tmp_path):
    a = load_config("tiny")
    assert a.digest() == load_config("tiny").digest()
    assert a.digest() != load_config("tiny", output_dir=str(tmp_path)).digest()


def _write(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


BASE = """
name: t
output_dir: out
dataset:
  background: {train: 10, validation: 10, test: 10}
  signals: {ttbar: 10}
"""


def test_minimal_config_gets_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, BASE))
    assert cfg.model.name == "dense_ae"
    assert cfg.evaluation.collision_rate_mhz == pytest.approx(28.61)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE.replace("  background: {train: 10, validation: 10, test: 10}\n", ""), "dataset.background: missing required key"),
        (BASE + "model: {name: transformer9000}\n", "unknown model 'transformer9000'"),
        (BASE.replace("ttbar", "unicorns"), "unknown signal process 'unicorns'"),
        (BASE + "colour: blue\n", "colour: unknown key"),
        (BASE + 'evaluation: {"rates\\nkhz": [1]}\n', "evaluation.rates khz: unknown key"),  # found by test_fuzz
        (BASE + "evaluation: {menu: {seeds: [{name: Mu, kind: muon, thresholds_gev: [5, 10]}]}}\n",
         "leading object first"),
        (BASE + "evaluation: {rates_khz: [-1]}\n", "trigger rates must be positive"),
        ("name: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_configs_give_one_line_errors(tmp_path, text, expected):
    with pytest.raises(L1adError) as err:
        load_config(_write(tmp_path, text))
    message = str(err.value)
    assert expected in message
    assert "\n" not in message
    assert "run.yaml" in message


def test_missing_config_file():
    with pytest.raises(L1adError, match="no such file, and not a shipped config"):
        load_config("does/not/exist.yaml")


def test_cli_reports_config_errors_in_one_line(tmp_path, run_cli):
    path = _write(tmp_path, BASE + "model: {name: nope}\n")
    code, out, err = run_cli("train", "--config", path)
    assert code == 2
    assert err.startswith("l1ad: error: config ") and err.count("\n") == 1
    assert "unknown model 'nope'" in err


def test_cli_prints_resolved_config(run_cli):
    code, out, _ = run_cli("config", "-c", "tiny")
    assert code == 0
    assert "pileup_pools:\n    train: 300" in out and "pileup_stitch_pthat_gev: 30.0" in out


def test_standard_datasets_and_sizes():
    from l1ad.config import dataset_definition, shipped_datasets

    assert "zb" in shipped_datasets()
    zb = dataset_definition("zb")
    assert {"tiny", "default", "large"} <= set(zb.sizes)
    large = zb.resolve("large")
    assert large.background.test >= 1_000_000  # FPR 1e-5 measurable
    cfg = load_config("tiny", dataset="zb", size="default")
    assert cfg.dataset.size == "default" and cfg.dataset.background.test == zb.sizes["default"].background.test


@pytest.mark.parametrize(("kwargs", "expected"), [({"dataset": "nope"}, "unknown dataset 'nope'"),
                                                  ({"size": "huge"}, "no size 'huge'")])
def test_unknown_dataset_or_size(kwargs, expected):
    with pytest.raises(L1adError, match=expected):
        load_config("tiny", **kwargs)


def test_help_everywhere(run_cli):
    for args in ([], ["data"], ["data", "generate"], ["data", "inspect"], ["train"], ["evaluate"], ["firmware"],
                 ["leaderboard"], ["run"], ["config"]):
        with pytest.raises(SystemExit) as exit_:
            run_cli(*args, "--help")
        assert exit_.value.code == 0


def test_fpga_part_by_alias_or_name():
    from l1ad.config import FirmwareConfig

    by_alias = FirmwareConfig(part="vu9p")
    assert by_alias.part == "xcvu9p-flga2104-2L-e"
    assert by_alias.fpga_part.lut == 1_182_240
    assert FirmwareConfig().fpga_part.alias == "VU13P"
    with pytest.raises(ValueError, match="unknown FPGA part 'xcku15p'"):
        FirmwareConfig(part="xcku15p")
