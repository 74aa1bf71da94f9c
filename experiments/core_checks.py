"""Print the core numerical checks of gnode (docs/results.md, "Exact checks").

    python experiments/core_checks.py

Equivalences (max abs difference), Euler's convergence order against the adaptive solver, the
critical initialisation and the mean-field critical gain. The last line is JSON.
"""

from __future__ import annotations

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.fields import GNODE, MGRU, NODE
from gnode.init import critical_gain, critical_init
from gnode.model import make_model
from gnode.solve import Adaptive, Euler
from gnode.tasks import make_flipflop


def equivalences() -> dict[str, float]:
    h, x = jr.normal(jr.key(1), (5,)), jr.normal(jr.key(2), (3,))
    mgru = MGRU(5, 3, key=jr.key(0))
    f, g = mgru.flow, mgru.gate_net
    by_hand = jax_sigmoid(g.state_weight @ h + g.input_weight @ x + g.first_bias) * (
        jnp.tanh(f.state_weight @ h + f.input_weight @ x + f.first_bias) - h
    )
    gnode = GNODE(5, 3, (16, 16), key=jr.key(0))
    gate = gnode.gate_net
    gate = eqx.tree_at(
        lambda m: (m.state_weight, m.input_weight, m.first_bias),
        gate,
        (jnp.zeros_like(gate.state_weight), jnp.zeros_like(gate.input_weight), jnp.full(5, 50.0)),
    )
    gated_one = eqx.tree_at(lambda m: m.gate_net, gnode, gate)
    node = eqx.tree_at(lambda m: m.flow, NODE(5, 3, (16, 16), key=jr.key(9)), gnode.flow)
    step = Euler().integrate(gnode, h, x[None], jnp.array([0.01]), 0.0, 0.01)[0]
    z, flow = gnode.gate(h, x), gnode.flow(h, x)
    return {
        "mgru_vs_gnode_single_tanh_layer": float(jnp.max(jnp.abs(mgru.velocity(h, x) - by_hand))),
        "gnode_gate_one_vs_node": float(jnp.max(jnp.abs(gated_one.velocity(h, x) - node.velocity(h, x)))),
        "euler_alpha_one_vs_convex_combination": float(jnp.max(jnp.abs(step - ((1 - z) * h + z * flow)))),
    }


def jax_sigmoid(a):
    return 1 / (1 + jnp.exp(-a))


def euler_order() -> dict[str, object]:
    field = GNODE(3, 2, (16,), activation=jnp.tanh, key=jr.key(0))
    xs, ts, h0 = jr.normal(jr.key(1), (20, 2)), 0.05 * jnp.arange(1, 21), jnp.array([0.3, -0.2, 0.5])
    ref = Adaptive(rtol=1e-8, atol=1e-8).integrate(field, h0, xs, ts, 0.0, 0.1)
    errors = [
        float(jnp.max(jnp.abs(Euler(substeps=m).integrate(field, h0, xs, ts, 0.0, 0.1) - ref)))
        for m in (4, 8, 16, 32, 64)
    ]
    return {
        "substeps": [4, 8, 16, 32, 64],
        "errors": errors,
        "orders": np.log2(np.divide(errors[:-1], errors[1:])).tolist(),
    }


def critical() -> dict[str, object]:
    train, _ = make_flipflop("three_bit_variable", n_train=50, n_val=10)
    model = make_model("gnode", 6, 3, 3, flow_widths=(100, 100, 100), init="critical_normal", key=jr.key(0))
    _, report = critical_init(model, train.inputs)
    gains = {}
    for layers in (1, 2, 3):
        n, edge, frobenius = 400, [], []
        for seed in range(5):
            net = make_model(
                "node",
                n,
                1,
                1,
                flow_widths=(n,) * layers,
                init="critical_normal",
                initial_state="zero",
                key=jr.key(seed),
            )
            h = jr.normal(jr.key(100 + seed), (n,))
            edge.append(critical_gain(net, h, jnp.zeros(1)))
            dflow = np.asarray(jax.jacfwd(net.field.ungated_velocity)(h, jnp.zeros(1))) + np.eye(n)
            frobenius.append((n / np.sum(dflow**2)) ** (1 / (2 * (layers + 1))))
        gains[layers] = {
            "edge_of_stability": float(np.mean(edge)),
            "edge_spread": float(np.std(edge)),
            "frobenius_radius": float(np.mean(frobenius)),
            "theory": 2 ** (layers / (2 * (layers + 1))),
        }
    return {
        "gnode_3bit_eta_before": report.eta_before,
        "eta_after": report.eta_after,
        "iterations": report.iterations,
        "mean_field_gain": gains,
    }


def main():
    result = {"equivalences": equivalences(), "euler": euler_order(), "critical": critical()}
    for name, value in result["equivalences"].items():
        print(f"{name:>40}: max |difference| = {value:.2e}")
    print(f"{'Euler errors vs Tsit5':>40}: " + ", ".join(f"{e:.2e}" for e in result["euler"]["errors"]))
    print(f"{'Euler observed orders':>40}: " + ", ".join(f"{o:.3f}" for o in result["euler"]["orders"]))
    c = result["critical"]
    print(
        f"{'critical init (gnODE 3-bit)':>40}: max Re eig {c['gnode_3bit_eta_before']:.3f} -> {c['eta_after']:.2e} "
        f"in {c['iterations']} steps"
    )
    for layers, g in c["mean_field_gain"].items():
        print(
            f"{f'critical gain, {layers} hidden ReLU layers':>40}: "
            f"edge {g['edge_of_stability']:.3f} ± {g['edge_spread']:.3f}, "
            f"Frobenius {g['frobenius_radius']:.3f} (theory {g['theory']:.3f})"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
