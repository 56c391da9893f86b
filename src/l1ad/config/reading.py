"""Reading YAML settings safely: plain data only (no tags, no Python objects), UTF-8 text, no repeated keys."""

from __future__ import annotations

from pathlib import Path

import yaml

from l1ad.errors import ConfigError, one_line

MAX_CONFIG_BYTES = 1_000_000  # a run config is a few kilobytes; anything this large is not one


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str):
    """The data of a YAML document; every problem is a one-line :class:`ConfigError` naming ``source``."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {source}: not valid YAML ({one_line(str(exc))})") from None


def read_text_file(path: Path, source: str) -> str:
    """A settings file as UTF-8 text; binary, UTF-16 or huge files are refused in one line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config {source}: unreadable ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {source}: {len(data)} bytes, more than a config can be ({MAX_CONFIG_BYTES})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config {source}: not UTF-8 text (a binary file, or another encoding such as UTF-16)") from None
    if "\x00" in text:
        raise ConfigError(f"config {source}: not a text file (it holds NUL bytes)")
    return text


def shipped_names(folder: str) -> list[str]:
    """The shipped configs of one kind: the YAML files of ``l1ad/configs/<folder>``, by name."""
    from importlib import resources

    directory = resources.files("l1ad.configs").joinpath(folder)
    return sorted(p.name.removesuffix(".yaml") for p in directory.iterdir() if p.name.endswith(".yaml"))


def load_named_config(folder: str, what: str, name_or_path: str | Path, model):
    """A shipped config of ``l1ad/configs/<folder>`` by name, or a YAML file by path, validated into the pydantic
    ``model``; every problem is one :class:`ConfigError` line naming the file."""
    from importlib import resources

    from pydantic import ValidationError

    from l1ad.errors import describe_validation_error

    name = str(name_or_path)
    if name in shipped_names(folder):
        text = resources.files("l1ad.configs").joinpath(folder, f"{name}.yaml").read_text()
        source = f"'{name}' (shipped {what})"
    else:
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"{what} config {name!r}: no such file, and not a shipped {what} "
                              f"({', '.join(shipped_names(folder))})")
        text, source = read_text_file(path, str(path)), str(path)
    raw = parse_yaml(text, source)
    if not isinstance(raw, dict):
        raise ConfigError(f"config {source}: expected a mapping of settings at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"config {source}: {describe_validation_error(exc)}") from None
