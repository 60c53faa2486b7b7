"""How much of a CUDA kernel's launch fits on the GPU at once (issue 70, item 3): blocks per SM
and, for a launch in clusters, the clusters resident at once (cudaOccupancyMaxActiveClusters)
beside the clusters of its grid. A persistent grid of more clusters than fit runs a second
wave that waits for a whole share of the first."""

from __future__ import annotations

import math

from ..targets.problem import Config
from .gpu import CudaKernel


def residency(kernel: CudaKernel, config: Config) -> dict[str, int]:
    """``blocks_per_sm`` and ``blocks`` for a launch on ``config``; with clusters, also
    ``clusters_resident`` and ``clusters``."""
    from cuda.core import LaunchConfig

    grid, block, smem, cluster = kernel.geometry(config)  # grid in clusters, with clusters
    kernel.grant_smem(smem)
    occupancy = kernel.kernel.occupancy
    per_cluster = math.prod(cluster) if cluster is not None else 1
    fits = {"blocks_per_sm": occupancy.max_active_blocks_per_multiprocessor(
        math.prod(block), smem), "blocks": math.prod(grid) * per_cluster}
    if cluster is not None:
        options = LaunchConfig(grid=grid, block=block, shmem_size=smem, cluster=cluster)
        fits["clusters_resident"] = occupancy.max_active_clusters(
            options, stream=kernel.device.stream())
        fits["clusters"] = math.prod(grid)
    return fits
