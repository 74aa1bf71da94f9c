"""The products inside an ensemble step, one at a time: batched dot vs multiply-and-sum, for S members.

    python benchmarks/member_products.py            # S = 16 members (one CPU core's share of 32), batch 8, 32 x 32

Each product runs 100 times in one jitted ``lax.scan`` (as in the time loop). Rows: the forward product
``h W``, the state gradient ``g W^T`` and the weight gradient ``h^T g``, each as a batched ``einsum`` (what ``vmap``
of ``h @ W.T`` gives) and as an explicit multiply-and-sum; the forward and state-gradient products also as
multiply-and-sum with the members on the last axis (the layout kept throughout). The last line printed is JSON
(microseconds per step).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import best_time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--width", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    import jax
    import jax.numpy as jnp
    import numpy as np

    s, b, w, steps = args.members, args.batch, args.width, 100
    rng = np.random.default_rng(0)
    h = jnp.asarray(rng.normal(size=(steps, s, b, w)), jnp.float32)
    g = jnp.asarray(rng.normal(size=(steps, s, b, w)), jnp.float32)
    weight = jnp.asarray(rng.normal(size=(s, w, w)), jnp.float32)
    products = {
        "forward h W, batched dot": lambda h, g, m: jnp.einsum("sbi,sio->sbo", h, m),
        "forward h W, multiply-and-sum": lambda h, g, m: jnp.sum(h[:, :, :, None] * m[:, None], axis=-2),
        "state gradient g W^T, batched dot": lambda h, g, m: jnp.einsum("sbo,sio->sbi", g, m),
        "state gradient g W^T, multiply-and-sum": lambda h, g, m: jnp.sum(g[:, :, None, :] * m[:, None], axis=-1),
        "weight gradient h^T g, batched dot": lambda h, g, m: jnp.einsum("sbi,sbo->sio", h, g),
        "weight gradient h^T g, multiply-and-sum": lambda h, g, m: jnp.sum(h[:, :, :, None] * g[:, :, None], axis=1),
    }
    # members as the last (vector-lane) axis, the layout kept throughout: h, g (batch, width, members), W (in, out, m)
    last = {
        "forward h W, members last, multiply-and-sum": lambda h, g, m: jnp.sum(h[:, :, None] * m[None], axis=1),
        "state gradient g W^T, members last, multiply-and-sum": lambda h, g, m: jnp.sum(g[:, None] * m[None], axis=2),
    }
    to_last = lambda a: jnp.moveaxis(a, -3, -1)  # noqa: E731 — (..., s, b, w) -> (..., b, w, s)
    arrays = dict.fromkeys(products, (h, g, weight)) | dict.fromkeys(last, (to_last(h), to_last(g), to_last(weight)))
    result = {}
    for name, product in (products | last).items():

        def run(h, g, m, product=product):
            return jax.lax.scan(lambda c, hg: (c + product(hg[0], hg[1], m).sum(), None), 0.0, (h, g))[0]

        jitted = jax.jit(run)
        result[name] = 1e6 * best_time(lambda f=jitted, a=arrays[name]: f(*a).block_until_ready()) / steps
        print(f"{name:42s} {result[name]:7.1f} us per step ({result[name] / s:.2f} us per member)", flush=True)
    print(json.dumps({"members": s, "batch": b, "width": w, "us_per_step": result}))


if __name__ == "__main__":
    main()
