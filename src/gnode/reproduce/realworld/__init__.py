"""Real-world benchmarks of gating: gnODE, nODE, GRU, mGRU and leaky RNN at matched parameter counts.

- :mod:`~gnode.reproduce.realworld.tasks`: the tasks (JapaneseVowels with dropped points, CharacterTrajectories,
  Walker2d kinematics, keyword audio real or synthetic) as train / validation / test arrays.
- :mod:`~gnode.reproduce.realworld.protocol`: matched sizes, seeds trained as one vmapped ensemble with early stopping,
  test metrics, and the results table.
"""
