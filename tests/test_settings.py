import dataclasses

import pytest

from gnode.errors import ConfigError
from gnode.settings import check_keys, read_settings_file


def test_reads_toml_and_json(tmp_path):
    (tmp_path / "a.toml").write_text('task = "ring"\ndynamics = [8, 8]\n')
    (tmp_path / "a.json").write_text('{"task": "ring", "dynamics": [8, 8]}')
    assert read_settings_file(tmp_path / "a.toml") == read_settings_file(tmp_path / "a.json")


def test_missing_or_broken_files_name_themselves(tmp_path):
    with pytest.raises(ConfigError, match="sweep file not found"):
        read_settings_file(tmp_path / "none.toml", "sweep file")
    (tmp_path / "b.toml").write_text("[grid\n")
    with pytest.raises(ConfigError, match=r"b\.toml is not valid"):
        read_settings_file(tmp_path / "b.toml")
    (tmp_path / "c.json").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="is not valid"):
        read_settings_file(tmp_path / "c.json")


def test_unknown_keys_are_listed():
    @dataclasses.dataclass
    class Settings:
        a: int = 0
        b: int = 0

    check_keys(Settings, {"a": 1}, "settings")
    with pytest.raises(ConfigError, match=r"unknown settings \['c', 'd'\]; known: \['a', 'b'\]"):
        check_keys(Settings, {"a": 1, "d": 2, "c": 3}, "settings")
