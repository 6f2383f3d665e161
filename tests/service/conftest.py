"""A real two-node Ray cluster on 127.0.0.1 for the session (skips where ray is absent).

Ray's ``ray start`` rewrites 127.0.0.1 to the machine's routable address whenever a second
node joins (its servers then listen on every interface), so the cluster is started the way
Ray's own multi-node tests start theirs: ``ray.cluster_utils.Cluster``, with
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` so each node (a GCS server on the head, one raylet and
its worker processes per node, one CPU each) binds 127.0.0.1 only. The processes are the ones
``ray start`` runs; the fixture stops exactly those it started.
"""

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from executor_case import RayCluster

RAY_ENV = {
    # keep every node on the loopback address (see the module docstring)
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
}


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """Head plus one worker node, one CPU each, on 127.0.0.1; shut down after the session."""
    # a short temp dir: Ray's unix sockets live under it (107-character path limit)
    temp = tempfile.mkdtemp(prefix="ranopt-ray-", dir="/tmp")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**RAY_ENV, "RAY_TMPDIR": temp}.items():
            patch.setenv(name, value)
        pytest.importorskip("ray", reason="ray is not installed (the distributed extra)")
        from ray.cluster_utils import Cluster

        cluster: Any = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "include_dashboard": False},
            shutdown_at_exit=True,
        )
        try:
            worker = cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            raylets = tuple(
                node.all_processes["raylet"][0].process.pid for node in (cluster.head_node, worker)
            )
            yield RayCluster(address=cluster.address, raylet_pids=raylets)
        finally:
            import ray

            ray.shutdown()
            cluster.shutdown()
            shutil.rmtree(temp, ignore_errors=True)
