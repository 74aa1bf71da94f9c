"""Gaussian chains in information form: the posterior of ``x_{1:T}`` whose log-density is
``−½ xᵀ J x + hᵀ x`` with a block-tridiagonal precision J (the continuous half of an SLDS posterior).

Block LDLᵀ elimination forward in time, then back-substitution for the means and the marginal and lag-one
covariances: O(T D³), one ``lax.scan`` each way.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def chain_posterior(
    diagonal: Float[Array, "time latent latent"],
    upper: Float[Array, "time-1 latent latent"],
    linear: Float[Array, "time latent"],
) -> tuple[
    Float[Array, "time latent"],
    Float[Array, "time latent latent"],
    Float[Array, "time-1 latent latent"],
    Float[Array, ""],
]:
    """Means, covariances and lag-one covariances ``Cov(x_t, x_{t+1})`` of the Gaussian with precision blocks
    ``J_{t,t} = diagonal[t]``, ``J_{t,t+1} = upper[t]`` (and ``J_{t+1,t} = upper[t]ᵀ``) and linear term ``linear``.

    Arguments:
        diagonal: symmetric positive-definite diagonal blocks.
        upper: the blocks above the diagonal.
        linear: h.
    Returns:
        ``(mean, cov, cross, log_det)``, ``log_det`` = log det J (the entropy of the chain is
        ``½ (T D log 2πe − log det J)``).
    """

    def forward(carry, inputs):
        schur_prev, h_prev = carry
        block, coupling, h = inputs
        gain = jnp.linalg.solve(schur_prev, coupling)  # S_{t−1}⁻¹ J_{t−1,t}
        schur = block - coupling.T @ gain
        return (schur, h - gain.T @ h_prev), (schur, h - gain.T @ h_prev)

    first = (diagonal[0], linear[0])
    _, (schurs, hs) = jax.lax.scan(forward, first, (diagonal[1:], upper, linear[1:]))
    schurs = jnp.concatenate([diagonal[:1], schurs])
    hs = jnp.concatenate([linear[:1], hs])

    def backward(carry, inputs):
        mean_next, cov_next = carry
        schur, h, coupling = inputs
        inverse = jnp.linalg.inv(schur)
        gain = inverse @ coupling  # S_t⁻¹ J_{t,t+1}
        mean = inverse @ h - gain @ mean_next
        cross = -gain @ cov_next
        cov = inverse + gain @ cov_next @ gain.T
        return (mean, cov), (mean, cov, cross)

    last_cov = jnp.linalg.inv(schurs[-1])
    last = (last_cov @ hs[-1], last_cov)
    _, (means, covs, crosses) = jax.lax.scan(backward, last, (schurs[:-1], hs[:-1], upper), reverse=True)
    means = jnp.concatenate([means, last[0][None]])
    covs = jnp.concatenate([covs, last_cov[None]])
    log_det = jnp.sum(jnp.linalg.slogdet(schurs)[1])
    return means, 0.5 * (covs + jnp.swapaxes(covs, -1, -2)), crosses, log_det
