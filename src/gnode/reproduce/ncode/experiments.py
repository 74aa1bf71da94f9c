"""The N-CODE experiments: each trains its models (every seed of a model as one vmapped ensemble), scores them,
draws its figures and writes ``summary.json`` into an output folder.

- :func:`run_reflection` — x -> -x on U[-1, 1] without a readout;
- :func:`run_annulus` — inner ball vs outer shell, 1-D or 2-D, linear readout, MSE to +-1;
- :func:`run_digits` — scikit-learn's 8 x 8 digits: neural ODE, augmented neural ODE, N-CODE at one budget;
- :func:`run_autoencoder` — digits autoencoded through a control-driven decoder; samples from a Gaussian mixture.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.data import ArrayData
from gnode.errors import ConfigError
from gnode.files import write_json, write_text
from gnode.losses import loss_named
from gnode.model import parameter_count
from gnode.ncode.flow import FlowSolver
from gnode.ncode.model import evaluate
from gnode.reproduce.ncode import figures, tasks
from gnode.reproduce.ncode.builders import DECODERS, MODELS, Sizes, build, build_autoencoder, check_model
from gnode.train.driver import TrainConfig
from gnode.train.ensemble import fit_ensemble
from gnode.train.objective import MapObjective
from gnode.train.rates import batch_seconds, fit_rates
from gnode.train.runs import RunDir, resumable, save_models


@dataclasses.dataclass(frozen=True)
class Training:
    """Optimisation of every model of an experiment (AdamW without decay; the rest as :class:`TrainConfig`).

    Attributes:
        lr, epochs, batch_size (None: full batch), patience (None: no early stopping), clip_norm, seeds.
        lrs: a learning-rate grid (empty: ``lr`` alone); each model's rate is the one with the lowest mean
            best-validation loss over its seeds. extend_lrs: rates that may be added past the grid's edge the
            choice lands on (:func:`gnode.selection.interior_rate`).
    """

    lr: float = 3e-3
    epochs: int = 1000
    batch_size: int | None = None
    patience: int | None = None
    clip_norm: float | None = 1.0
    seeds: int = 1
    lrs: tuple[float, ...] = ()
    extend_lrs: int = 0

    def __post_init__(self):
        if self.seeds <= 0 or self.extend_lrs < 0 or min((self.lr, *self.lrs)) <= 0:
            raise ConfigError(f"need seeds > 0, extend_lrs >= 0 and positive rates, got {self.seeds}, "
                              f"{self.extend_lrs}, {[self.lr, *self.lrs]}")  # fmt: skip

    @property
    def grid(self) -> tuple[float, ...]:
        return self.lrs or (self.lr,)

    def config(self, samples: int, loss: str) -> TrainConfig:
        batch = samples if self.batch_size is None else self.batch_size
        return TrainConfig(
            lr=self.lr, weight_decay=0.0, batch_size=batch, epochs=self.epochs, loss=loss_named(loss),
            clip_norm=self.clip_norm, patience=self.patience,
        )  # fmt: skip


def fit_models(
    models: Sequence[eqx.Module],
    train: ArrayData,
    val: ArrayData,
    training: Training,
    loss: str,
    out_shape: tuple[int, ...],
    run_dir: RunDir | None = None,
    lrs: Sequence[float] | None = None,
    seeds: Sequence[int] | None = None,
    keep_diverged: bool = False,
) -> tuple[list[eqx.Module], dict[str, Any]]:
    """Train same-shape models as one ensemble, checkpointing in ``run_dir`` (continued from its checkpoint if it
    has one); member i at learning rate ``lrs[i]`` (default ``training.lr``) with data order ``seeds[i]`` (default
    i). ``keep_diverged``: when every member diverges, return their best models from before instead of raising
    :class:`~gnode.errors.DivergenceError` (a learning-rate grid's rate that diverges is one of its results).
    Returns: the best-validation models and a record (per-epoch training loss of each member, its best validation
    loss and epoch, whether it diverged, epochs run, wall time)."""
    objective = MapObjective(loss_named(loss), tuple(train.inputs.shape[1:]), out_shape)
    best, result = fit_ensemble(
        list(models), train, val, training.config(train.num_samples, loss), objective=objective, progress=False,
        lrs=None if lrs is None else list(lrs), seeds=list(range(len(models))) if seeds is None else list(seeds),
        run_dir=run_dir, resume=run_dir is not None, keep_diverged=keep_diverged,
    )  # fmt: skip
    return best, {
        "train_loss": [np.asarray(row["train_loss"]).tolist() for row in result.history],
        "val_loss": np.asarray(result.summary["best_val_loss"]).tolist(),
        "best_epoch": np.asarray(result.summary["best_epoch"]).tolist(),
        "diverged": np.asarray(result.summary["diverged"]).tolist(),
        "epochs_run": result.summary["epochs_run"],
        "seconds": result.summary["fit_seconds"],  # a resumed fit's whole cost
    }


def _scores(models, data: ArrayData, loss: str) -> dict[str, list[float]]:
    """Per member: the test loss (MSE) or accuracy, and the mean forward NFE per sample."""
    out: dict[str, list[float]] = {"mse": [], "accuracy": [], "nfe": []}
    for model in models:
        pred, nfe = evaluate(model, jnp.asarray(data.inputs))
        pred = np.asarray(pred)
        if loss == "mse":
            out["mse"].append(float(np.mean((pred - data.targets) ** 2)))
            if data.targets.shape[-1] == 1 and set(np.unique(data.targets)) <= {-1.0, 1.0}:
                out["accuracy"].append(tasks.sign_accuracy(pred, data.targets))
        else:
            out["accuracy"].append(float(np.mean(pred.argmax(-1) == data.targets)))
        out["nfe"].append(float(np.mean(np.asarray(nfe))))
    return {k: v for k, v in out.items() if v}


def _train_all(
    out: Path,
    names: Sequence[str],
    splits: dict[str, ArrayData],
    out_dim: int | None,
    sizes: Sizes,
    solver: FlowSolver,
    training: Training,
    loss: str,
    out_shape: tuple[int, ...],
    task: str,
) -> tuple[dict[str, list], dict[str, dict]]:
    """Train and score every model (its seeds as one ensemble), each saved as it finishes: run again in ``out``
    after a crash, the models finished with the same settings are loaded instead of trained."""
    names = [check_model(name) for name in names]  # every name checked before anything trains
    in_dim = splits["train"].inputs.shape[1]
    settings = {"task": task, "sizes": repr(sizes), "solver": repr(solver), "training": repr(training), "loss": loss}
    trained, results = {}, {}
    for name in names:

        def fit_members(grid, run_dir, name=name):
            members = [build(name, in_dim, out_dim, sizes, solver, key=jr.key(seed)) for _, seed in grid]
            best, record = fit_models(members, splits["train"], splits["val"], training, loss, out_shape, run_dir,
                                      lrs=[lr for lr, _ in grid], seeds=[seed for _, seed in grid],
                                      keep_diverged=True)  # fmt: skip
            return best, {"parameters": parameter_count(members[0]), **record}

        # one ensemble per rate: an adaptive solver steps every vmapped member as often as the stiffest one needs
        choice, fits = fit_rates(fit_members, training.grid, training.seeds, training.extend_lrs, out=out,
                                 unit=name, settings={**settings, "model": name}, together=False)  # fmt: skip
        chosen = fits[choice.chosen]
        best = chosen.models
        record = {**chosen.record, "train_loss": [row[chosen.members] for row in chosen.record["train_loss"]],
                  "val_loss": chosen.val_loss, "best_epoch": chosen.best_epoch}  # fmt: skip
        if out is not None:
            save_models(out, {name: best})  # the chosen rate's seeds, beside every batch's in models/
        trained[name] = best
        results[name] = {
            **record,
            "lr": choice.chosen,
            "lr_interior": choice.interior,
            "val_loss_by_lr": {f"{lr:g}": value for lr, value in choice.losses.items()},
            "seconds": batch_seconds(fits),
            "train": _scores(best, splits["train"], loss),
            "test": _scores(best, splits["test"], loss),
        }
    return trained, results


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values))


def run_reflection(
    out: str | Path,
    *,
    models: Sequence[str] = ("node", "ncode-static", "ncode-open", "ncode-closed"),
    samples: int = 256,
    solver: FlowSolver = FlowSolver(),
    sizes: Sizes = Sizes(node_width=32),
    training: Training = Training(epochs=400),
) -> dict[str, Any]:
    """x -> -x on U[-1, 1], no readout (a learned affine readout would solve it with w = -1); the test set is a
    grid of 101 points. Writes ``reflection.png`` (trajectories z(t)) and ``summary.json``."""
    splits = {
        "train": tasks.reflection(samples, seed=0),
        "val": tasks.reflection(samples, seed=1),
        "test": tasks.reflection_grid(101),
    }
    out = Path(out)
    trained, results = _train_all(out, models, splits, None, sizes, solver, training, "mse", (1,), "reflection")
    times = jnp.linspace(0.0, solver.t1, 41)
    starts = jnp.linspace(-1.0, 1.0, 21)[:, None]
    paths = {name: np.asarray(_paths(models_[0], starts, times)) for name, models_ in trained.items()}
    figures.plot_trajectories(np.asarray(times), np.asarray(starts[:, 0]), paths, out / "reflection.png")
    summary = {
        "task": "reflection",
        "models": results,
        "test_mse": {name: _mean(r["test"]["mse"]) for name, r in results.items()},
        "node_floor": 1.0 / 3.0,
    }
    return write_summary(out, summary)


@eqx.filter_jit
def _paths(model, starts, times):
    """z(t) at ``times`` for each start (the state's first entry)."""

    def one(x):
        ys = model.flow(x, times).ys
        z = ys[0] if isinstance(ys, tuple) else ys
        return z[:, 0]

    return jax.vmap(one)(starts)


def run_annulus(
    out: str | Path,
    *,
    dim: int = 1,
    models: Sequence[str] = ("node", "anode", "ncode-static", "ncode-open", "ncode-closed"),
    samples: int = 256,
    solver: FlowSolver = FlowSolver(),
    sizes: Sizes = Sizes(node_width=32, augment=1),
    training: Training = Training(epochs=600),
) -> dict[str, Any]:
    """Inner ball (+1) vs outer shell (-1) in ``dim`` = 1 or 2, linear readout, MSE; accuracy of the sign, loss
    curves and NFE. Writes ``annulus_{dim}d.png`` and ``summary.json``."""
    splits = {
        "train": tasks.annulus(samples, dim, seed=0),
        "val": tasks.annulus(samples, dim, seed=1),
        "test": tasks.annulus(2 * samples, dim, seed=2),
    }
    out = Path(out)
    _, results = _train_all(out, models, splits, 1, sizes, solver, training, "mse", (1,), f"annulus_{dim}d")
    figures.plot_curves(results, out / f"annulus_{dim}d.png", title=f"{dim}-D annulus")
    summary = {
        "task": f"annulus_{dim}d",
        "models": results,
        "test_accuracy": {name: _mean(r["test"]["accuracy"]) for name, r in results.items()},
        "test_nfe": {name: _mean(r["test"]["nfe"]) for name, r in results.items()},
    }
    return write_summary(out, summary)


DIGIT_SIZES = Sizes(state=16, field_width=16, control_width=8, dynamics_width=4, augment=16)
DIGIT_TRAINING = Training(
    epochs=300, batch_size=64, patience=30, seeds=5, lrs=(1e-3, 3e-3, 1e-2, 3e-2), extend_lrs=3
)  # bench-real's protocol (gnode.reproduce.realworld.protocol.BenchConfig)


def run_digits(
    out: str | Path,
    *,
    models: Sequence[str] = ("node", "anode", "ncode-open", "ncode-closed"),
    solver: FlowSolver = FlowSolver(max_steps=256),
    sizes: Sizes = DIGIT_SIZES,
    training: Training = DIGIT_TRAINING,
    images: tuple[ArrayData, ArrayData, ArrayData] | None = None,
    task: str = "digits",
) -> dict[str, Any]:
    """Classify scikit-learn's digits (64 pixels, 10 classes) at a matched parameter count (the baselines' widths
    are matched to ``ncode-open``); test accuracy and NFE over seeds. The default training is bench-real's
    protocol: each model's rate chosen on validation from a grid extended until the choice is interior, early
    stopping after 30 epochs without a better validation loss, 5 seeds. ``images``: other flattened images with
    10 classes (e.g. :func:`gnode.reproduce.ncode.tasks.mnist`) as ``(train, val, test)``, named ``task``.
    Writes ``<task>.png`` and ``summary.json``."""
    train, val, test = tasks.digits(seed=0) if images is None else images
    splits = {"train": train, "val": val, "test": test}
    out = Path(out)
    _, results = _train_all(out, models, splits, 10, sizes, solver, training, "cross_entropy", (10,), task)
    figures.plot_curves(results, out / f"{task}.png", title=task)
    return write_summary(out, {"task": task, "models": results})


def _spread(values: Sequence[float], scale: float = 1.0, digits: str = ".4g") -> str:
    v = scale * np.asarray(values, float)
    if v.size == 1:
        return format(v[0], digits)
    return f"{format(v.mean(), digits)} ± {format(v.std(ddof=1), digits)}"


def results_table(summary: dict[str, Any]) -> str:
    """The markdown table of an experiment's ``summary.json``: per model, mean ± std over seeds of its scores,
    parameters, epochs run and wall time (all seeds together)."""
    rank = {name: i for i, name in enumerate(dict.fromkeys((*MODELS, *DECODERS)))}  # summary.json sorts keys
    models = dict(sorted(summary["models"].items(), key=lambda item: rank.get(item[0], len(rank))))
    if summary["task"] == "digits_autoencoder":
        lines = ["| decoder | test reconstruction MSE | seeds | parameters (decoder) | epochs run | wall time (s) |"]
        lines.append("|---|---|---|---|---|---|")
        for name, r in models.items():
            lines.append(
                f"| {name} | {_spread(r['test_mse'])} | {len(r['test_mse'])} | {r['parameters']} "
                f"({r['decoder_parameters']}) | {r['epochs_run']} | {r['seconds']:.0f} |"
            )
        return "\n".join(lines)
    first = next(iter(models.values()))
    mse, accuracy = "mse" in first["test"], "accuracy" in first["test"]
    header = ["model"] + ["train MSE", "test MSE"] * mse + ["test accuracy (%)"] * accuracy
    rates = len(first.get("val_loss_by_lr", {})) > 1  # a learning-rate grid: the chosen rate and the rates tried
    header += ["seeds", "parameters", "test NFE per sample"]
    header += ["lr (chosen on val)", "rates tried", "best epochs (per seed)"] * rates + ["epochs run", "wall time (s)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, r in models.items():
        cells = [name]
        if mse:
            cells += [_spread(r["train"]["mse"], digits=".2e"), _spread(r["test"]["mse"], digits=".2e")]
        if accuracy:
            cells.append(_spread(r["test"]["accuracy"], 100.0, ".1f"))
        seeds = len(r["test"]["nfe"])
        cells += [str(seeds), str(r["parameters"]), _spread(r["test"]["nfe"], digits=".1f")]
        if rates:
            tried = [float(lr) for lr in r["val_loss_by_lr"]]
            star = "" if r.get("lr_interior") else "*"  # the choice sits at the edge of the rates tried
            cells += [f"{r['lr']:g}{star}", f"{min(tried):g}–{max(tried):g} ({len(tried)})"]
            cells.append(", ".join(str(e) for e in r["best_epoch"]))
        cells += [str(r["epochs_run"]), f"{r['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_summary(out: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """``summary.json`` and ``table.md``."""
    write_json(out / "summary.json", summary)
    write_text(out / "table.md", results_table(summary) + "\n")
    return summary


def run_autoencoder(
    out: str | Path,
    *,
    decoders: Sequence[str] = ("ncode", "node"),
    code: int = 8,
    mode: str = "open",
    components: int = 10,
    solver: FlowSolver = FlowSolver(max_steps=256),
    training: Training = Training(epochs=150, batch_size=64, patience=15, seeds=1),
) -> dict[str, Any]:
    """Autoencode the digits; reconstruction MSE on the test split; a Gaussian mixture (``components``) fitted to
    the training codes gives new codes, decoded into ``samples_{decoder}.png``. Writes ``reconstructions.png``
    and ``summary.json``."""
    from sklearn.mixture import GaussianMixture

    if code <= 0 or components <= 0:
        raise ConfigError(f"code and components must be positive, got {code}, {components}")
    for decoder in decoders:  # every name checked before anything trains
        build_autoencoder(decoder, 64, code, solver, mode=mode, key=jr.key(0))
    train, val, test = tasks.digits(seed=0)
    splits = {"train": ArrayData(train.inputs, train.inputs), "val": ArrayData(val.inputs, val.inputs)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results, shown = {}, {}
    settings = {"task": "digits_autoencoder", "code": code, "mode": mode, "components": components,
                "solver": repr(solver), "training": repr(training)}  # fmt: skip
    for decoder in decoders:

        def work(run_dir, decoder=decoder):
            seeds = [
                build_autoencoder(decoder, 64, code, solver, mode=mode, key=jr.key(s)) for s in range(training.seeds)
            ]
            best, record = fit_models(seeds, splits["train"], splits["val"], training, "mse", (64,), run_dir)
            model = best[0]
            mse = [float(np.mean((np.asarray(_reconstruct(m, test.inputs)) - test.inputs) ** 2)) for m in best]
            codes = np.asarray(jax.vmap(model.encode)(jnp.asarray(train.inputs)))
            mixture = GaussianMixture(components, covariance_type="full", random_state=0).fit(codes)
            new_codes, _ = mixture.sample(100)
            samples = np.asarray(jax.vmap(model.decoder)(jnp.asarray(new_codes, jnp.float32)))
            figures.plot_image_grid(samples, out / f"samples_{decoder}.png", title=f"{decoder} decoder: GMM samples")
            record = {"parameters": parameter_count(model), "decoder_parameters": parameter_count(model.decoder),
                      **record, "test_mse": mse}  # fmt: skip
            return best, record, {"shown": np.asarray(_reconstruct(model, test.inputs[:10]))}

        _, results[decoder], arrays = resumable(out, f"autoencoder_{decoder}", {**settings, "decoder": decoder}, work)
        shown[decoder] = arrays["shown"]
    figures.plot_reconstructions(test.inputs[:10], shown, out / "reconstructions.png")
    summary = {
        "task": "digits_autoencoder",
        "code": code,
        "mode": mode,
        "models": results,
        "test_mse": {d: _mean(r["test_mse"]) for d, r in results.items()},
    }
    return write_summary(out, summary)


@eqx.filter_jit
def _reconstruct(model, xs):
    return jax.vmap(model)(jnp.asarray(xs))
