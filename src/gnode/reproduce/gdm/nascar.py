"""NASCAR: a 2-D latent that runs around a track by switching between four linear dynamics, seen through 10 noisy
linear observations (lrrnn_gdm.md §B.4, §C.3).

Three named variants:

- ``standard`` — GDM's hard-switching version: Gumbel-softmax states at temperature 0.01 from the logits
  ``100 (x₁ − 2, −x₁ − 2, x₂ − 1, −x₂ − 1)``; states 1–2 rotate by π/24 (clockwise) about (±2, 0), states 3–4 drift
  by (+0.1, 0) and (−0.25, 0); no dynamics noise.
- ``soft_sticky`` — GDM's soft version: temperature 0.99, logits scaled by 0.02 and mixed with the previous state,
  ``(1 − γ)(W x + r) + γ z`` with γ = 0.25; four pure drifts of size 0.05. The states are themselves soft.
- ``linderman`` — the original recurrent SLDS example: hard states (argmax of ``(100(x₁ − 2), 100(−x₁ − 2), 10 x₂,
  −10 x₂)``), rotations by π/24 and π/48, the same drifts, dynamics noise variance 1e-4.

Every variant: x₀ = (0, 1), the third state first, y = C x + s ε with s = 0.01 (GDM's variants) or 0.1
(Linderman's: variance 1e-2), and C ~ N(0, 1)^{10×2} drawn from ``emission_seed`` so that train and test sequences
share it. Train and test *paths* come from different seeds (``seed``); the authors' standard setting used one seed
for both (``nascar(..., seed=0)`` twice reproduces that).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.linalg import expm

from gnode.errors import ConfigError

VARIANTS = ("standard", "soft_sticky", "linderman")
STATES = 4
LATENT = 2
TEMPERATURE = {"standard": 0.01, "soft_sticky": 0.99, "linderman": None}  # None: hard Categorical states
STICKINESS = {"standard": 0.0, "soft_sticky": 0.25, "linderman": 0.0}  # γ of the logits (1 − γ)(W x + r) + γ z


@dataclasses.dataclass(frozen=True)
class Switching:
    """One simulated sequence.

    Attributes:
        observations: ``(time, obs)``; latents: ``(time, 2)``; states: the (relaxed) one-hot states ``(time, 4)`` —
        soft in ``soft_sticky``; labels: their argmax ``(time,)``; emission: C ``(obs, 2)``.
    """

    observations: np.ndarray
    latents: np.ndarray
    states: np.ndarray
    labels: np.ndarray
    emission: np.ndarray

    @property
    def switches(self) -> int:
        """How often the argmax state changes."""
        return int(np.sum(self.labels[1:] != self.labels[:-1]))


def _rotation(theta: float) -> np.ndarray:
    return expm(np.array([[0.0, theta], [-theta, 0.0]]))  # clockwise by theta


def true_dynamics(variant: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-state ``A_k`` (the one-step maps) and offsets ``b_k``."""
    eye = np.eye(LATENT)
    if variant == "soft_sticky":
        return np.stack([eye] * 4), np.array([[0.0, -0.05], [0.0, 0.05], [0.05, 0.0], [-0.05, 0.0]])
    second = np.pi / 24 if variant == "standard" else np.pi / 48
    rotations = [_rotation(np.pi / 24), _rotation(second)]
    centres = [np.array([2.0, 0.0]), np.array([-2.0, 0.0])]
    offsets = [(eye - a) @ c for a, c in zip(rotations, centres, strict=True)]
    return np.stack([*rotations, eye, eye]), np.stack([*offsets, [0.1, 0.0], [-0.25, 0.0]])


def true_transitions(variant: str) -> tuple[np.ndarray, np.ndarray]:
    """Transition weights ``W`` (4 × 2) and biases ``r`` (4)."""
    if variant == "linderman":
        return np.array([[100.0, 0], [-100, 0], [0, 10], [0, -10]]), np.array([-200.0, -200, 0, 0])
    scale = 1.0 if variant == "standard" else 0.02
    w = 100 * scale * np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    return w, 100 * scale * np.array([-2.0, -2, -1, -1])


def nascar(
    variant: str = "standard",
    *,
    time: int = 1000,
    observations: int = 10,
    seed: int = 0,
    emission_seed: int = 0,
    start: tuple[float, float] = (0.0, 1.0),
) -> Switching:
    """Simulate one NASCAR sequence.

    Arguments:
        variant: ``standard``, ``soft_sticky`` or ``linderman``.
        time: sequence length (the GDM settings: 1000; Linderman's example used 10,000).
        observations: observed dimensions.
        seed: the path (state noise, dynamics noise, observation noise).
        emission_seed: the emission matrix C, shared by train and test.
        start: the initial latent ``x_0`` (the GDM settings: (0, 1); the first state is the third).
    Returns:
        A :class:`Switching` sequence.
    """
    if variant not in VARIANTS:
        raise ConfigError(f"unknown NASCAR variant {variant!r}; choose one of {list(VARIANTS)}")
    if time < 2 or observations < 1:
        raise ConfigError(f"need time >= 2 and observations >= 1, got {time}, {observations}")
    rng = np.random.default_rng(seed)
    emission = np.random.default_rng([emission_seed, 7]).normal(size=(observations, LATENT))
    maps, offsets = true_dynamics(variant)
    weights, biases = true_transitions(variant)
    temperature, stickiness = TEMPERATURE[variant], STICKINESS[variant]
    x = np.asarray(start, dtype=float)
    z = np.eye(STATES)[2]
    latents, states = [x], [z]
    for _ in range(time - 1):
        logits = (1 - stickiness) * (weights @ x + biases) + stickiness * z
        if temperature is None:  # hard recurrent SLDS: z ~ Categorical(softmax(logits))
            probabilities = np.exp(logits - logits.max())
            z = np.eye(STATES)[rng.choice(STATES, p=probabilities / probabilities.sum())]
        else:
            scores = (logits + rng.gumbel(size=STATES)) / temperature
            z = np.exp(scores - scores.max())
            z = z / z.sum()
        x = np.einsum("k,kij,j->i", z, maps, x) + z @ offsets
        if variant == "linderman":
            x = x + 1e-2 * rng.normal(size=LATENT)
        latents.append(x)
        states.append(z)
    latents, states = np.asarray(latents), np.asarray(states)
    noise = 0.1 if variant == "linderman" else 0.01
    ys = latents @ emission.T + noise * rng.normal(size=(time, observations))
    return Switching(ys, latents, states, states.argmax(-1), emission)


def nascar_trials(
    variant: str = "standard", *, trials: int = 40, time: int = 200, seed: int = 0, emission_seed: int = 0
) -> list[Switching]:
    """Many short NASCAR paths through the same system: each trial starts from its own ``x_0``, drawn uniformly
    from [−3, 3] × [−1.5, 1.5] by ``seed`` (the track's region), with its own noise; C is shared."""
    rng = np.random.default_rng([seed, 11])
    starts = rng.uniform([-3.0, -1.5], [3.0, 1.5], size=(trials, 2))
    return [nascar(variant, time=time, seed=int(rng.integers(2**31)), emission_seed=emission_seed,
                   start=(float(a), float(b))) for a, b in starts]  # fmt: skip
