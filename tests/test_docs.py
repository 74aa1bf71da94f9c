"""The Python examples of docs/getting-started.md run as written (in order, in one namespace)."""

import re
from pathlib import Path

DOCS = Path(__file__).parents[1] / "docs"


def test_getting_started_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "getting-started.md").read_text(), flags=re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)  # the examples write files
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "getting-started.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "train: 40 input samples but 10 targets" in printed
    assert (tmp_path / "ring_model.npz").is_file()
