"""A long command killed inside a fit's checkpoint write resumes to the result of an uninterrupted run (the
kill-at-a-unit cases are in test_crashes.py; split so that test workers share the load)."""

import faults


def _killed_inside_a_fit_resumes_exactly(tmp_path, args, files, ignore, nth=3):
    """``gnode *args --out`` killed inside the ``nth`` checkpoint write of a fit it runs, run again: the fit
    continues from its previous checkpoint and every result equals an uninterrupted run's."""
    full, cut = tmp_path / "full", tmp_path / "cut"
    done = faults.run(*args, "--out", full)
    assert done.returncode == 0, done.stderr
    assert faults.kill_inside_write([*args, "--out", cut], "checkpoint.npz", nth, tmp_path / "inside")
    assert list(cut.rglob("checkpoint.npz"))  # a fit was under way, its earlier checkpoint kept
    again = faults.run(*args, "--out", cut)
    assert again.returncode == 0, again.stderr
    assert not list(cut.rglob(f".*{faults.TEMPORARY}*"))
    assert faults.differences(full, cut, files, ignore=ignore) == []


def test_bench_real_killed_inside_a_fit_resumes_exactly(tmp_path):
    args = ["bench-real", "japanese-vowels", "--drop", "0.5", "--models", "gnode,node", "--seeds", "2", "--budget",
            "300", "--epochs", "6", "--batch", "64", "--lrs", "1e-3,1e-2"]  # fmt: skip
    files = ["results.json", "models/gnode.npz", "models/node.npz"]
    _killed_inside_a_fit_resumes_exactly(tmp_path, args, files, ignore=("seconds_all_members",))


def test_sweep_killed_inside_a_group_resumes_exactly(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[base]\ntask = "four_point"\ndynamics = [8]\nn_train = 40\nn_val = 20\nbatch_size = 20\n'
                    "epochs = 6\n[grid]\nlr = [0.001, 0.01]\nbatch_size = [10, 20]\n")  # fmt: skip
    files = sorted(f"models/{p.name}" for p in _sweep_models(tmp_path, path))
    _killed_inside_a_fit_resumes_exactly(tmp_path, ["sweep", path], files, ignore=("group_seconds",), nth=8)


def _sweep_models(tmp_path, path):
    done = faults.run("sweep", path, "--out", tmp_path / "names")
    assert done.returncode == 0, done.stderr
    return list((tmp_path / "names" / "models").glob("*.npz"))
