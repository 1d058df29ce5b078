"""Collective communication: an alpha-beta model with two tiers (inside a node, across nodes).

time = steps x latency + bytes moved per rank / bandwidth. Ring factors: all-reduce 2(n-1)/n,
reduce-scatter and all-gather (n-1)/n, all-to-all (n-1)/n of the per-rank payload. ``bytes`` is
the per-rank buffer size. A group of one rank communicates nothing. Works on numpy arrays.
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


def all_to_all_s(nbytes, n, hardware, efficiency=DATASHEET, stride=1):
    """All-to-all of a per-rank payload over n ranks spaced ``stride`` apart, split by tier.

    Each rank keeps 1/n and sends (n-1)/n: (g-1)/n of it to peers in its node (g = min(n, GPUs
    per node / stride)) and (n-g)/n across nodes; the tiers move in parallel, so the slower bounds it.
    time = (n-1) latency + max(inside bytes / intra bw, outside bytes / NIC bw).
    """
    n = np.asarray(n, dtype=float)
    g = np.maximum(np.minimum(n, hardware.scale_up_gpus // np.asarray(stride)), 1)
    inside = (g - 1) / n * nbytes / (hardware.scale_up_bandwidth_bytes_per_s * efficiency.scale_up_util)
    outside = (n - g) / n * nbytes / (hardware.scale_out_bandwidth_bytes_per_s * efficiency.scale_out)
    latency = np.where(n > g, hardware.scale_out_latency_s, hardware.scale_up_latency_s)
    return np.where(n > 1, (n - 1) * latency + np.maximum(inside, outside), 0.0)


def p2p_s(nbytes, bandwidth, latency):
    """Point-to-point send: latency + bytes / bandwidth."""
    return latency + nbytes / bandwidth
