"""Routing statistics of a Mixture-of-Experts layer: which experts and ranks the tokens reach,
and how unevenly the expert-parallel ranks are loaded.

Every function takes numpy arrays. Symbols: E routed experts, k experts per token, ep expert-parallel
ranks, S = E + redundant expert slots, T tokens routed in one step over the whole expert group.

Load imbalance (:func:`load_imbalance`) is the expected max / mean routed tokens per EP rank. Routed
token counts of a rank vary for two reasons:

* sampling: T k assignments land on ep ranks; a rank's count has relative standard deviation
  about 1 / sqrt(mu) with mu = T k / ep (balls into bins, the lower bound under uniform routing);
* popularity: some experts are hot. With per-expert load coefficient of variation c_e and S / ep
  slots per rank placed at random, a rank's load has relative deviation c_e / sqrt(S / ep).
  EPLB (redundant slots placed by measured load) leaves a residual c_eplb instead.

The two add in quadrature, and the busiest of ep ranks sits z(ep) standard deviations above the
mean, z(n) the expected maximum of n standard normals (Blom's approximation):

    imbalance = 1 + z(ep) sqrt(1 / mu + c_static^2),  c_static = c_e / sqrt(S / ep) (no EPLB) or c_eplb,

at least 1 / mu (the busiest rank holds a whole token) and at most what a rank can receive: every
assignment that can reach it, min(k, S / ep) T.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from .units import CostModelError


@dataclass(frozen=True)
class RoutingSkew:
    """How unevenly a router spreads tokens over the experts (scenario inputs, not architecture).

    expert_cv: coefficient of variation of the per-expert load (0: uniform routing);
    eplb_residual_cv: relative deviation of a rank's load left after EPLB places redundant slots.
    """

    expert_cv: float
    eplb_residual_cv: float
    name: str = "custom"

    def __post_init__(self):
        for key in ("expert_cv", "eplb_residual_cv"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 100:
                raise CostModelError(f"routing.{key}: {value!r} must be a number in [0, 100)")


TRTLLM_EP32 = {"tokens": 4096, "without_eplb": 1.564, "eplb_288_slots": 0.109}
"""NVIDIA's published DeepSeek-R1 routing statistics on 32 GB200 GPUs (TensorRT-LLM tech blog "Scaling
Expert Parallelism in TensorRT-LLM, Part 1", Table 1): (max - mean) / mean routed tokens per rank,
averaged over MoE layers 3-60 and iterations 100-200, 1,024 routed tokens per rank (4,096 tokens a step)."""

TRTLLM_EP32_Z = NormalDist().inv_cdf((32 - 0.375) / (32 + 0.25))
"""z(32), the expected max of 32 standard normals (Blom), used to fit :data:`MEASURED`."""

MEASURED = RoutingSkew(
    expert_cv=round(TRTLLM_EP32["without_eplb"] / TRTLLM_EP32_Z * 8**0.5, 2),
    eplb_residual_cv=round(((TRTLLM_EP32["eplb_288_slots"] / TRTLLM_EP32_Z) ** 2 - 1 / 1024) ** 0.5, 3),
    name="measured",
)
"""Fitted to NVIDIA's published DeepSeek-R1 routing on 32 GB200 GPUs (TensorRT-LLM tech blog
"Scaling Expert Parallelism in TensorRT-LLM, Part 1", Table 1: (max - mean) / mean routed tokens per
rank 1.564 at EP32 without EPLB, 8 experts per rank, and 0.109 with 288 slots, 1024 routed tokens per
rank on average): c_e = 1.564 / z(32) x sqrt(8) = 2.14 (sampling noise 1 / sqrt(1024) is negligible
beside it) and c_eplb = sqrt((0.109 / z(32))^2 - 1 / 1024) = 0.043."""

UNIFORM = RoutingSkew(expert_cv=0.0, eplb_residual_cv=0.0, name="uniform")
"""Uniform random routing: only sampling noise (the lower bound; what ``--ep-dispatch-algorithm
fake`` benchmarks run)."""

ROUTING_PROFILES = {"measured": MEASURED, "uniform": UNIFORM}


def routing_skew(routing) -> RoutingSkew:
    """A :class:`RoutingSkew` from a profile name (``measured``, ``uniform``) or passed through."""
    if isinstance(routing, RoutingSkew):
        return routing
    if routing is None:
        return MEASURED
    if routing not in ROUTING_PROFILES:
        raise CostModelError(f"routing: {routing!r} is not one of {', '.join(ROUTING_PROFILES)}")
    return ROUTING_PROFILES[routing]


@lru_cache(maxsize=4096)
def _expected_max_normal(n: int) -> float:
    return 0.0 if n <= 1 else NormalDist().inv_cdf((n - 0.375) / (n + 0.25))


def expected_max_normal(n):
    """z(n): expected maximum of n independent standard normals (Blom: Phi^-1((n - 3/8) / (n + 1/4)));
    z(1) = 0, z(2) = 0.55, z(8) = 1.42, z(32) = 2.07."""
    values = np.asarray(n)
    unique, inverse = np.unique(values, return_inverse=True)
    table = np.array([_expected_max_normal(int(v)) for v in unique])
    return table[inverse].reshape(values.shape) if values.shape else float(table[0])


def experts_active_fraction(m, tokens):
    """Expected share of experts that receive at least one of ``tokens`` tokens: 1 - (1 - k/E)^tokens."""
    return 1.0 - (1.0 - m.experts_per_token / m.num_experts) ** tokens if m.is_moe else 0.0


def distinct_groups_hit(k, groups):
    """Expected number of the ``groups`` equal groups of experts that one token's k experts reach:
    groups x (1 - (1 - 1/groups)^k) (experts drawn independently; 1 group -> 1)."""
    groups = np.asarray(groups, dtype=float)
    return groups * (1.0 - (1.0 - 1.0 / groups) ** k)


def load_imbalance(tokens, k, ep, slots, skew: RoutingSkew, eplb):
    """Expected max / mean routed tokens over the ep ranks (module docstring). ``tokens``: tokens
    routed in the step over the whole expert group; ``slots``: E + redundant slots; ``eplb``: True
    where redundant slots are placed by measured load. 1 when ep = 1."""
    ep = np.asarray(ep, dtype=float)
    mean = np.maximum(np.asarray(tokens, dtype=float) * k / ep, 1e-12)
    per_rank = np.asarray(slots, dtype=float) / ep
    c_static = np.where(eplb, skew.eplb_residual_cv, skew.expert_cv / np.sqrt(np.maximum(per_rank, 1.0)))
    spread = expected_max_normal(ep.astype(int)) * np.sqrt(1.0 / mean + c_static**2)
    cap = np.minimum(k, per_rank) * ep / k
    floor = 1.0 / mean  # the busiest rank holds at least one token
    return np.where(ep > 1, np.minimum(np.maximum(1.0 + spread, floor), np.maximum(cap, 1.0)), 1.0)
