"""The tutorials on the docs site run as written: their Python blocks in order in one namespace, and each
``gnode ...`` line of their bash blocks through the CLI's entry point (exit code 0)."""

import re
import shlex
from pathlib import Path

import pytest

from gnode.cli.main import main

TUTORIALS = Path(__file__).parents[1] / "docs" / "tutorials"
FINAL_FILES = {
    "switching.md": "selection.png",
    "connectivity.md": "selection.png",
}  # what a tutorial's last step writes (default: an analysis report)


def run_page(page: Path) -> dict:
    namespace: dict = {}
    for language, block in re.findall(r"```(python|bash)\n(.*?)```", page.read_text(), flags=re.S):
        if language == "python":
            exec(compile(block, page.name, "exec"), namespace)
            continue
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith("gnode "):
                assert main(shlex.split(command)[1:]) == 0, command
    return namespace


@pytest.mark.parametrize("page", sorted(p.name for p in TUTORIALS.glob("*.md")))
def test_tutorial_runs_as_written(tmp_path, monkeypatch, page):
    if page == "neurogym.md":
        pytest.importorskip("neurogym")
    monkeypatch.chdir(tmp_path)  # the tutorials write files
    namespace = run_page(TUTORIALS / page)
    assert namespace, "a tutorial without Python"
    ending = FINAL_FILES.get(page, "report.html")
    assert list(tmp_path.rglob(ending)), f"the tutorial ends without its {ending}"
