"""A gnODE on neurogym's context-dependent decision task (Mante, Sussillo et al. 2013 style), its fixed points per
context, and the line attractor along which it integrates the relevant evidence.

    python experiments/neurogym_context.py --out runs/neurogym_context        # ~15 min on 2 CPU cores
    python experiments/neurogym_context.py --out runs/neurogym_750 --stimulus 750 --figure runs/neurogym_750/fig.png

Trains with ``gnode train`` settings (printed), then, for each context, reads the dynamics at that context's mean
input during the stimulus period (fixation on, the context cue on, the stimuli at their mean): fixed and slow points,
their dimension, and how well the slow points form a line (the share of their variance on one axis) aligned with
the choice axis (the difference of the mean states at the end of the stimulus between trials of either choice, as
Mante et al. define it by regression). Writes ``results.json``, the two analyses and
``docs/figures/neurogym_context.png``; prints the table that ``docs/results.md`` shows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from gnode import load, predict
from gnode.analysis import AnalysisConfig, FixedPointFinder, analyze
from gnode.analysis.plots import principal_axes
from gnode.experiment import RunConfig, train_run
from gnode.files import pyplot, save_figure
from gnode.tasks.neurogym import decision_accuracy, neurogym_trials

TASK = "neurogym:ContextDecisionMaking-v0"
SETTINGS = dict(
    task=TASK,
    # the context cue as an input; no delay: neurogym's default delay is random with no go cue, so the time to
    # answer could not be known (Mante et al.'s monkeys answered when the stimulus ended); stimuli of 300-1500 ms, so
    # that the time elapsed says nothing and the evidence must be held where it stands (with a fixed 750 ms the
    # network integrates along a ramp in time instead: --stimulus 750 shows it)
    task_options=["use_expl_context=true", 'timing={"delay": 0, "stimulus": ["uniform", [300, 1500]]}'],
    model="gnode",
    dim=32,
    dynamics=[128],
    gate=[],
    dt=0.02,
    tau=0.1,
    n_train=2000,
    n_val=500,
    batch_size=50,
    lr=3e-3,
    weight_decay=0.0,
    epochs=60,
    patience=15,
)


def line_share(points: np.ndarray) -> float:
    """The share of the points' variance along their first principal axis (1 for points on a line)."""
    centred = points - points.mean(0)
    values = np.linalg.svd(centred, compute_uv=False) ** 2
    return float(values[0] / values.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/neurogym_context"))
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--seeds", type=int, default=3, help="networks trained (model seeds 0, 1, ...)")
    parser.add_argument("--figure", type=Path, default=Path("docs/figures/neurogym_context.png"))
    parser.add_argument("--stimulus", type=int, default=0, help="a fixed stimulus duration in ms (default: varied)")
    args = parser.parse_args()
    settings = {**SETTINGS, "epochs": args.epochs}
    if args.stimulus:
        settings["task_options"] = ["use_expl_context=true", f'timing={{"delay": 0, "stimulus": {args.stimulus}}}']
    rows = []
    for seed in range(args.seeds):
        config = RunConfig.from_dict({**settings, "model_seed": seed})
        rows += one_network(config, args.out / f"seed{seed}", args.figure if seed == 0 else None)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"{TASK}, gnODE N={settings['dim']}, {args.seeds} networks (model seeds)")
    header = ["network", "context", "decision accuracy", "dimension at slow points", "slow points",
              "stable / saddles / unstable", "slow points on one axis", "cos(line, choice axis)"]  # fmt: skip
    print("| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
    for r in rows:
        fp = r["fixed_points"]
        line = [r.get("line_share", float("nan")), r.get("line_choice_cosine", float("nan"))]
        cells = [f"seed {r['seed']}", r["context"], f"{r['decision_accuracy']:.3f}", str(r["dimension"]),
                 str(fp["slow_points"]), f"{fp['stable']} / {fp['saddles']} / {fp['unstable']}",
                 f"{line[0]:.3f}", f"{line[1]:.3f}"]  # fmt: skip
        print("| " + " | ".join(cells) + " |")


def one_network(config: RunConfig, out: Path, figure_path: Path | None) -> list[dict]:
    """Train one network (or reuse a finished run) and read its dynamics in each context."""
    run = out / "run"
    train_run(config, run, resume=(run / "config.json").is_file(), progress=False)
    model = load(run / "model.npz")
    trials = neurogym_trials(TASK.split(":")[1], config.n_train + config.n_val, dt=config.dt,
                             options=config.neurogym_options(), seed=config.task_seed)  # fmt: skip
    val = trials.data.subset(slice(config.n_train, None))
    context = trials.conditions["context"][config.n_train :]
    logits, states = (np.asarray(a) for a in predict(model, jnp.asarray(val.inputs)))
    stimulus_on = np.abs(val.inputs[..., 1:5]).sum(-1) > 0  # neurogym sets the stimulus channels only then
    # the choice axis, as Mante et al. define it: the direction that separates the states by the trial's choice, here
    # the difference of the mean states at the end of the stimulus (a regression on a binary choice)
    last = stimulus_on.shape[1] - 1 - np.argmax(stimulus_on[:, ::-1], axis=1)
    end_states = states[np.arange(len(states)), last]
    choice = trials.conditions["ground_truth"][config.n_train :]
    choice_axis = end_states[choice == 1].mean(0) - end_states[choice == 2].mean(0)
    choice_axis = choice_axis / np.linalg.norm(choice_axis)
    # slow on the task's time scale: stimuli last 3-15 tau, so a speed below ~1 % of the states' range per tau
    # (q < 1e-4) and |Re lambda| < 0.1 / tau (time constants above 1 s) count as slow
    analysis_config = AnalysisConfig(starts=1024, trials=200, finder=FixedPointFinder(slow_tol=1e-4, max_steps=4000))
    rows = []
    for c in (0, 1):
        trials_c = context == c
        held = val.inputs[stimulus_on & trials_c[:, None]].mean(0)
        where = out / f"context{c + 1}"
        if not (where / "summary.json").is_file():  # a finished analysis is kept: run the script again to resume
            analyze(model, val.inputs[trials_c], None, where, analysis_config, title=f"context {c + 1}",
                    held_input=held)  # fmt: skip
        found = json.loads((where / "summary.json").read_text())
        slow = np.load(where / "points.npz")["slow_points"]
        mask = None if val.mask is None else val.mask[trials_c]
        row = {
            "seed": config.model_seed,
            "context": f"context {c + 1}",
            "decision_accuracy": decision_accuracy(logits[trials_c], val.targets[trials_c], mask),
            "held_input": [round(float(v), 3) for v in held],
            "dimension": found["dimension"],
            "fixed_points": {k: found["fixed_points"][k] for k in ("stable", "saddles", "unstable", "slow_points")},
        }
        if len(slow) > 2:
            axis = np.linalg.svd(slow - slow.mean(0), full_matrices=False)[2][0]
            row["line_share"] = line_share(slow)
            row["line_choice_cosine"] = float(abs(axis @ choice_axis))
        rows.append(row)
    if figure_path is not None:
        figure(states, stimulus_on, context, out, choice_axis, figure_path)
    return rows


def figure(states, stimulus_on, context, out: Path, choice_axis: np.ndarray, path: Path) -> None:
    """Stimulus-period trajectories and each context's slow points, on the top two PCs of those states."""
    plt = pyplot()
    mean, axes, explained = principal_axes(states[stimulus_on])
    project = lambda p: (np.asarray(p) - mean) @ axes[:2].T  # noqa: E731
    fig, panels = plt.subplots(1, 2, figsize=(11, 4.8), sharex=True, sharey=True)
    for c, ax in enumerate(panels):
        for trial in np.flatnonzero(context == c)[:30]:
            ax.plot(*project(states[trial][stimulus_on[trial]]).T, lw=0.6, color="0.7")
        slow = project(np.load(out / f"context{c + 1}" / "points.npz")["slow_points"])
        ax.scatter(*slow.T, s=4, color=f"C{c}", label="slow points")
        arrow = 2 * np.std(project(states[stimulus_on]), axis=0).max() * (choice_axis @ axes[:2].T)
        ax.annotate("", xy=arrow, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "k"})
        ax.set(title=f"context {c + 1}: slow points and stimulus-period trajectories",
               xlabel=f"PC1 ({100 * explained[0]:.0f} %)", ylabel=f"PC2 ({100 * explained[1]:.0f} %)")  # fmt: skip
        ax.legend(fontsize=8)
    fig.suptitle("gnODE on ContextDecisionMaking: slow points per context (arrow: the choice axis)")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)


if __name__ == "__main__":
    main()
