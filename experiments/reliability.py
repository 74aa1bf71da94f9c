"""The reliability tables of docs/reliability.md.

    python experiments/reliability.py kills [--per-command 20] [--commands train,sweep,...] [--seed 0]
    python experiments/reliability.py fuzz [--cases 300] [--targets config,arguments,sweep,data]

``kills``: every long command is run once uninterrupted, then again and again killed (SIGKILL) at a random moment
— uniform over its whole run, start-up included — or inside one of its file writes (a stall injected into the
write, as the crash tests do), and each time run again in the same folder to the end. Each resumed result is
compared with the uninterrupted one (arrays bit for bit, JSON and CSV without their wall-time fields). ``fuzz``:
the property-based generators of the test suite (tests/fuzzing.py), with many more cases per target, counted by
outcome. Both print a markdown table; the last line is JSON.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fault injection and generators the test suite uses

import faults  # noqa: E402

TIMES = ("seconds", "steps_per_second", "train_seconds_this_process", "train_seconds", "fit_seconds",
         "seconds_all_members", "group_seconds", "group_epoch_seconds", "lint_seconds", "connector_seconds",
         "m_seconds", "n_seconds", "m_epoch_seconds_median", "n_iteration_seconds_median")  # fmt: skip
SWEEP = ('[base]\ntask = "four_point"\ndynamics = [8]\nn_train = 40\nn_val = 20\nbatch_size = 20\nepochs = 8\n'
         "[grid]\nlr = [0.001, 0.01]\nbatch_size = [10, 20]\n")  # fmt: skip
EXPRESSIVITY = ("[base]\niterations = 200\nevaluate_every = 25\nsteps = 30\n[grid]\nmodel = ['gnode', 'node']\n"
                "dim = [2]\ndepth = [0]\nknots = [2, 4]\n[measure]\nthreshold = 0.8\n")  # fmt: skip


def commands(work: Path) -> dict[str, dict]:
    """Each command: its arguments (``--out`` is added), how to resume it, what to compare, the writes a kill may
    land inside (file name, most occurrences), and a preparation of its folder."""
    (work / "sweep.toml").write_text(SWEEP)
    (work / "expressivity.toml").write_text(EXPRESSIVITY)
    train = ["train", "--task", "four_point", "--dim", "2", "--dynamics", "8", "--batch", "50", "--epochs", "30",
             "--no-progress"]  # fmt: skip
    return {
        "train": dict(
            args=train,
            resume=["--resume"],
            files=["checkpoint.npz", "model.npz", "metrics.jsonl", "summary.json"],
            writes=[("checkpoint.npz", 30), ("config.json", 1)],
        ),
        "sweep": dict(
            args=["sweep", work / "sweep.toml"],
            files=["results.csv", "models"],
            writes=[("checkpoint.npz", 16), ("results.csv", 2)],
        ),
        "expressivity": dict(
            args=["expressivity", work / "expressivity.toml"],
            files=["results.csv", "capacity.csv", "models"],
            writes=[("checkpoint.npz", 16), ("capacity.csv", 1)],
        ),
        "bench-real": dict(
            args=[
                "bench-real",
                "japanese-vowels",
                "--drop",
                "0.5",
                "--models",
                "gnode,node",
                "--seeds",
                "2",
                "--budget",
                "300",
                "--epochs",
                "8",
                "--batch",
                "64",
                "--lrs",
                "1e-3,1e-2",
            ],
            files=["results.json", "models"],
            writes=[("checkpoint.npz", 16), ("results.json", 2)],
        ),
        "gdm fit": dict(
            args=[
                "gdm",
                "fit",
                "soft_sticky",
                "--models",
                "gdm,slds,arhmm",
                "--seeds",
                "1",
                "--max-iterations",
                "200",
                "--baseline-iterations",
                "5",
            ],
            files=["inferred.npz", "fit.json", "models"],
            writes=[("gdm_seed0.npz", 2), ("inferred.npz", 1)],
        ),
        "connector fit": dict(
            args=["connector", "fit", "--lint-epochs", "20", "--m-epochs", "20", "--n-epochs", "20", "--samples", "64"],
            files=["fit.json", "lint.npz", "connector.npz"],
            writes=[("lint.npz", 2), ("connector.npz", 1)],
            prepare=["connector", "generate", "quadstable", "--neurons", "200"],
        ),
        "ncode reflection": dict(
            args=[
                "ncode",
                "reflection",
                "--models",
                "node,ncode-open",
                "--epochs",
                "20",
                "--steps",
                "5",
                "--solver",
                "heun",
            ],
            files=["summary.json", "models"],
            writes=[("checkpoint.npz", 40), ("summary.json", 1)],
        ),
    }


def expand(folder: Path, names: list[str]) -> list[str]:
    """File names to compare, a folder standing for every file in it."""
    out = []
    for name in names:
        path = folder / name
        out += sorted(str(p.relative_to(folder)) for p in path.rglob("*") if p.is_file()) if path.is_dir() else [name]
    return out


def kill_table(per_command: int, names: list[str], seed: int) -> dict:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="gnode-kills-"))
    table = {}
    for name, spec in commands(work).items():
        if names and name not in names:
            continue
        base = work / name.replace(" ", "_")
        base.mkdir()
        prepared = None
        if "prepare" in spec:
            prepared = base / "prepared"
            assert faults.run(*spec["prepare"], "--out", prepared).returncode == 0
        reference = base / "reference"
        if prepared:
            shutil.copytree(prepared, reference)
        tick = time.monotonic()
        done = faults.run(*spec["args"], "--out", reference)
        seconds = time.monotonic() - tick
        assert done.returncode == 0, done.stderr
        files = expand(reference, spec["files"])
        row = collections.Counter()
        trial = 0
        while row["kills"] < per_command:
            trial += 1
            out = base / f"trial{trial}"
            if prepared:
                shutil.copytree(prepared, out)
            args = [*spec["args"], "--out", out]
            inside = rng.random() < 0.3
            if inside:
                file, most = rng.choice(spec["writes"])
                killed = faults.kill_inside_write(args, file, rng.randint(1, most), base / f"mark{trial}")
            else:
                killed = faults.kill_after(args, rng.uniform(0.0, seconds))
            if not killed:
                row["finished before the kill"] += 1
                shutil.rmtree(out, ignore_errors=True)
                continue
            row["kills"] += 1
            row["inside a write"] += inside
            resumed = faults.run(*spec["args"], "--out", out, *spec.get("resume", []))
            if resumed.returncode != 0:
                row["resume failed"] += 1
                print(f"{name} trial {trial}: resume failed: {resumed.stderr.strip()[-300:]}", file=sys.stderr)
            elif faults.differences(reference, out, files, ignore=TIMES):
                row["different"] += 1
                print(f"{name} trial {trial}: differs in {faults.differences(reference, out, files, TIMES)}",
                      file=sys.stderr)  # fmt: skip
            else:
                row["identical"] += 1
            shutil.rmtree(out, ignore_errors=True)
        table[name] = {"uninterrupted seconds": round(seconds, 1), **row}
        print(name, table[name], file=sys.stderr, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return table


def fuzz_table(cases: int, targets: list[str]) -> dict:
    """Each target of tests/fuzzing.py (or those whose names contain one of ``targets``) with ``cases`` generated
    cases: outcomes counted, failures kept."""
    import fuzzing
    import jax.random as jr
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from gnode.data import load_sequences
    from gnode.errors import GnodeError
    from gnode.model import make_model
    from gnode.sweep import read_sweep_file
    from gnode.train.objective import SequenceObjective

    work = Path(tempfile.mkdtemp(prefix="gnode-fuzz-"))
    counter = iter(range(10**9))
    table: dict[str, collections.Counter] = {}

    def counted(target: str, strategy, case) -> None:
        if targets and not any(t in target for t in targets):
            return
        outcomes = table.setdefault(target, collections.Counter())

        @settings(max_examples=cases, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(value=strategy)
        def run(value):
            folder = work / f"c{next(counter)}"
            folder.mkdir()
            try:
                outcomes[case(folder, value)] += 1
            except Exception as error:  # a traceback or a broken property: counted and shown, never raised
                outcomes["TRACEBACK or property broken"] += 1
                print(f"{target}: {type(error).__name__}: {str(error)[:300]}", file=sys.stderr)
            shutil.rmtree(folder, ignore_errors=True)

        run()
        print(target, dict(outcomes), file=sys.stderr, flush=True)

    def config_case(folder, file):
        suffix, text = file
        (folder / f"run{suffix}").write_text(text)
        code, stderr = fuzzing.run_cli(["train", "--config", folder / f"run{suffix}", "--out", folder / "out",
                                        "--no-progress"])  # fmt: skip
        return fuzzing.assert_valid_run_or_one_line(code, stderr, folder / "out")

    def arguments_case(folder, arguments):
        code, stderr = fuzzing.run_cli(["train", "--out", folder / "out", "--no-progress", *arguments])
        return fuzzing.assert_valid_run_or_one_line(code, stderr, folder / "out")

    def sweep_case(folder, tables):
        from gnode.experiment import sweep_cells

        base, grid = tables
        path = folder / "sweep.toml"
        path.write_text("[base]\n" + fuzzing.toml_text(base) + "[grid]\n" + fuzzing.toml_text(grid))
        try:
            read = read_sweep_file(path, ("base", "grid"))
            sweep_cells(read["base"], read["grid"])
        except GnodeError as error:
            assert len(str(error).splitlines()) == 1
            return "refused"
        return "valid"

    def data_case(folder, arrays):
        path = folder / "data.npz"
        fuzzing.write_npz(path, arrays)
        try:
            data = load_sequences(path)
            model = make_model("gnode", 2, 2, 1, flow_widths=(4,), key=jr.key(0))
            SequenceObjective().arrays(model, data, str(path))  # the check fit makes, naming the file
        except GnodeError as error:
            assert len(str(error).splitlines()) == 1 and str(path) in str(error)
            return "refused"
        return "valid"

    grids = st.dictionaries(st.sampled_from(fuzzing.RUN_KEYS), fuzzing.NESTED, max_size=2)
    counted("config files (gnode train --config)", fuzzing.config_files(), config_case)
    counted("gnode train arguments", fuzzing.train_arguments(), arguments_case)
    counted("sweep files", st.tuples(fuzzing.run_settings(), grids), sweep_case)
    counted("sequence data files (.npz)", fuzzing.sequence_arrays(), data_case)
    shutil.rmtree(work, ignore_errors=True)
    return {k: dict(v) for k, v in table.items()}


def markdown(table: dict, first: str) -> str:
    columns = list(dict.fromkeys(k for row in table.values() for k in row))
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(str(row.get(c, 0)) for c in columns) + " |" for name, row in table.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["kills", "fuzz"])
    parser.add_argument("--per-command", type=int, default=20, help="kills per command")
    parser.add_argument("--commands", default="", help="comma-separated subset of the commands (default: all)")
    parser.add_argument("--cases", type=int, default=300, help="generated cases per fuzzing target")
    parser.add_argument("--targets", default="", help="comma-separated parts of fuzzing target names (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="the kill moments")
    options = parser.parse_args()
    if options.what == "kills":
        names = [n.strip() for n in options.commands.split(",") if n.strip()]
        table = kill_table(options.per_command, names, options.seed)
        print(markdown(table, "command"))
    else:
        table = fuzz_table(options.cases, [t.strip() for t in options.targets.split(",") if t.strip()])
        print(markdown(table, "target"))
    print(json.dumps(table))


if __name__ == "__main__":
    main()
