"""Collective communication: an alpha-beta model with two tiers (scale-up domain, scale-out network).

time = latency + bytes moved per rank / bandwidth. Ring collectives pay one latency per ring step:
all-reduce 2(n-1) steps moving 2(n-1)/n of the buffer, reduce-scatter and all-gather (n-1) steps and
(n-1)/n. An all-to-all reaches its peers concurrently: one latency per exchange. ``nbytes`` is the
per-rank buffer. A group of one rank communicates nothing. Works on numpy arrays. Bandwidths are per
GPU per direction, derated by the efficiency's scale-up or scale-out utilisation.
"""

from __future__ import annotations

import numpy as np

from .efficiency import DATASHEET


def link(hardware, span, efficiency=DATASHEET):
    """(bandwidth bytes/s, latency s) for a group of ``span`` consecutive ranks.

    Inside one scale-up domain when span <= its GPUs (bandwidth x scale_up_util), otherwise the
    per-GPU scale-out NIC bounds it (x the scale-out utilisation).
    """
    inside = np.asarray(span) <= hardware.scale_up_gpus
    bw = np.where(inside, hardware.scale_up_bandwidth_bytes_per_s * efficiency.scale_up_util,
                  hardware.scale_out_bandwidth_bytes_per_s * efficiency.scale_out)
    lat = np.where(inside, hardware.scale_up_latency_s, hardware.scale_out_latency_s)
    return bw, lat


def reduce_scatter_s(nbytes, n, bandwidth, latency):
    """(n-1) steps of latency + (n-1)/n x bytes / bandwidth."""
    n = np.asarray(n, dtype=float)
    return (n - 1) * latency + (n - 1) / n * nbytes / bandwidth


def all_gather_s(nbytes, n, bandwidth, latency):
    """Same cost as a reduce-scatter: (n-1) latency + (n-1)/n x bytes / bandwidth."""
    return reduce_scatter_s(nbytes, n, bandwidth, latency)


def all_reduce_s(nbytes, n, bandwidth, latency):
    """Ring all-reduce = reduce-scatter + all-gather: 2(n-1) latency + 2(n-1)/n x bytes / bandwidth."""
    return reduce_scatter_s(nbytes, n, bandwidth, latency) + all_gather_s(nbytes, n, bandwidth, latency)


def hierarchical_all_reduce_s(nbytes, n, hardware, efficiency=DATASHEET, stride=1):
    """All-reduce over n ranks spaced ``stride`` apart, as NCCL does across scale-up domains: g ranks
    share a domain (g = min(n, domain GPUs / stride)), D = n / g domains. A ring inside each domain, then
    each rank all-reduces its 1/g slice with its peers of the other domains over its own NIC:

      time = all_reduce(S, g, scale-up) + all_reduce(S / g, D, scale-out)
           = 2 (g-1)/g S / B_up + 2 (g-1) a_up + 2 (D-1)/D S / (g B_out) + 2 (D-1) a_out

    Within one domain (D = 1) this is the plain ring all-reduce.
    """
    n = np.asarray(n, dtype=float)
    g = np.maximum(np.minimum(n, hardware.scale_up_gpus // np.asarray(stride)), 1)
    domains = n / g
    inside = all_reduce_s(nbytes, g, hardware.scale_up_bandwidth_bytes_per_s * efficiency.scale_up_util,
                          hardware.scale_up_latency_s)
    across = all_reduce_s(nbytes / g, domains, hardware.scale_out_bandwidth_bytes_per_s * efficiency.scale_out,
                          hardware.scale_out_latency_s)
    return inside + across


def all_to_all_s(nbytes, n, hardware, efficiency=DATASHEET, stride=1):
    """Uniform all-to-all of a per-rank payload over n ranks spaced ``stride`` apart, split by tier.

    Each rank keeps 1/n and sends (n-1)/n: (g-1)/n of it to peers in its scale-up domain
    (g = min(n, domain GPUs / stride)) and (n-g)/n across domains. The peers are reached concurrently,
    so one latency per exchange (of the slower tier) and the tiers move in parallel:
    time = latency + max(inside bytes / scale-up bw, outside bytes / scale-out bw).
    """
    n = np.asarray(n, dtype=float)
    g = np.maximum(np.minimum(n, hardware.scale_up_gpus // np.asarray(stride)), 1)
    inside = (g - 1) / n * nbytes / (hardware.scale_up_bandwidth_bytes_per_s * efficiency.scale_up_util)
    outside = (n - g) / n * nbytes / (hardware.scale_out_bandwidth_bytes_per_s * efficiency.scale_out)
    latency = np.where(n > g, hardware.scale_out_latency_s, hardware.scale_up_latency_s)
    return np.where(n > 1, latency + np.maximum(inside, outside), 0.0)


def ep_exchange_copies(k, ep, ranks_per_domain):
    """Copies of one token an expert-parallel dispatch sends per tier (DeepEP-style forwarding).

    A token goes once to every rank that holds one of its k experts (not k times): another rank is hit
    with probability p = 1 - (1 - 1/ep)^k. Across scale-up domains it crosses the network once per
    destination domain, landing on one GPU there that forwards it over NVLink / xGMI to the other
    ranks hit in that domain. With g ranks per domain and D = ep / g domains:

      scale-out copies = (D - 1) (1 - (1 - 1/D)^k)                  distinct remote domains hit
      scale-up copies  = (g - 1) p + (ep - g) p (g - 1) / g         own domain + forwarded inside others

    Returns (scale-up copies, scale-out copies) per token.
    """
    ep = np.asarray(ep, dtype=float)
    g = np.minimum(np.asarray(ranks_per_domain, dtype=float), ep)
    domains = ep / g
    p = 1.0 - (1.0 - 1.0 / ep) ** k
    out = (domains - 1.0) * (1.0 - (1.0 - 1.0 / domains) ** k)
    up = (g - 1.0) * p + (ep - g) * p * (g - 1.0) / g
    return up, out


def ep_exchange_s(tokens_per_rank, bytes_per_token, k, ep, hardware, efficiency=DATASHEET, stride=1,
                  imbalance=1.0):
    """One dispatch (or combine) of an expert-parallel MoE layer, seconds.

    tokens_per_rank: tokens each rank sends; bytes_per_token: d x bytes per element of the payload
    (FP8 dispatch, BF16 combine); ranks spaced ``stride`` apart (etp), so g = min(ep, domain GPUs /
    stride) share a scale-up domain. The busiest rank receives ``imbalance`` times the mean:

      time = latency + imbalance x max(T c_up b / (B_up u_up), T c_out b / (B_out u_out))

    with (c_up, c_out) from :func:`ep_exchange_copies`; latency of the scale-out tier when the group
    spans domains, else of the scale-up tier, once per exchange (peers are reached concurrently).
    """
    ep = np.asarray(ep, dtype=float)
    g = np.maximum(np.minimum(ep, hardware.scale_up_gpus // np.asarray(stride)), 1)
    up, out = ep_exchange_copies(k, ep, g)
    payload = np.asarray(tokens_per_rank, dtype=float) * bytes_per_token
    t_up = payload * up / (hardware.scale_up_bandwidth_bytes_per_s * efficiency.scale_up_util)
    t_out = payload * out / (hardware.scale_out_bandwidth_bytes_per_s * efficiency.scale_out)
    latency = np.where(ep > g, hardware.scale_out_latency_s, hardware.scale_up_latency_s)
    return np.where(ep > 1, latency + imbalance * np.maximum(t_up, t_out), 0.0)


def p2p_s(nbytes, bandwidth, latency):
    """Point-to-point send: latency + bytes / bandwidth."""
    return latency + nbytes / bandwidth
