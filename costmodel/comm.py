"""Collective communication: an alpha-beta model with two tiers (inside a node, across nodes).

time = steps x latency + bytes moved per rank / bandwidth. Ring factors: all-reduce 2(n-1)/n,
reduce-scatter and all-gather (n-1)/n, all-to-all (n-1)/n of the per-rank payload. ``bytes`` is
the per-rank buffer size. A group of one rank communicates nothing. Works on numpy arrays.
"""

from __future__ import annotations

import numpy as np


def link(hardware, span, comm_util: float = 1.0):
    """(bandwidth bytes/s, latency s) for a group of ``span`` consecutive ranks.

    Inside one node when span <= GPUs per node, otherwise the per-GPU scale-out NIC bounds it.
    """
    inside = np.asarray(span) <= hardware.gpus_per_node
    bw = np.where(inside, hardware.intra_node_bandwidth_bytes_per_s, hardware.inter_node_bandwidth_bytes_per_s)
    lat = np.where(inside, hardware.intra_node_latency_s, hardware.inter_node_latency_s)
    return bw * comm_util, lat


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


def all_to_all_s(nbytes, n, hardware, comm_util: float = 1.0, stride=1):
    """All-to-all of a per-rank payload over n ranks spaced ``stride`` apart, split by tier.

    Each rank keeps 1/n and sends (n-1)/n: (g-1)/n of it to peers in its node (g = min(n, GPUs
    per node / stride)) and (n-g)/n across nodes; the tiers move in parallel, so the slower bounds it.
    time = (n-1) latency + max(inside bytes / intra bw, outside bytes / NIC bw).
    """
    n = np.asarray(n, dtype=float)
    g = np.maximum(np.minimum(n, hardware.gpus_per_node // np.asarray(stride)), 1)
    inside = (g - 1) / n * nbytes / (hardware.intra_node_bandwidth_bytes_per_s * comm_util)
    outside = (n - g) / n * nbytes / (hardware.inter_node_bandwidth_bytes_per_s * comm_util)
    latency = np.where(n > g, hardware.inter_node_latency_s, hardware.intra_node_latency_s)
    return np.where(n > 1, (n - 1) * latency + np.maximum(inside, outside), 0.0)


def p2p_s(nbytes, bandwidth, latency):
    """Point-to-point send: latency + bytes / bandwidth."""
    return latency + nbytes / bandwidth
