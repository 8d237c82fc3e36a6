"""The local platform: a Kubernetes platform on one machine, without a cluster.

An API emulator that kopf, the official client and kubectl work against, a pod runner that plays
the kubelet and the Job controller with podman containers, real Git and S3 servers, and the
operator in a thread. ``kratix-py local-platform``, ``demo``, ``render``, ``validate`` and
``build-pipeline`` run on it; :mod:`kratix_py.testing` wraps it in pytest fixtures.

It is product code for people's machines, not for clusters: the operator image leaves it out.
"""
