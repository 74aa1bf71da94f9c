"""The papers' protocols: the benchmarks, pipelines, tables and figures that reproduce the published results.

Built on the library and never imported by it (``tests/test_architecture.py`` checks): the flip-flop and
expressivity suites of the gated-neural-ODE paper (:mod:`~gnode.reproduce.expressivity`), its real-world
benchmarks of gating (:mod:`~gnode.reproduce.realworld`), N-CODE's toy and digit experiments
(:mod:`~gnode.reproduce.ncode`), Connector's synthetic-ensemble pipeline (:mod:`~gnode.reproduce.connector`) and
GDM's two-protocol NASCAR pipeline (:mod:`~gnode.reproduce.gdm`). The ``gnode`` CLI runs them.
"""
