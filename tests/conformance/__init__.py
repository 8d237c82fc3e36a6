"""Conformance tests: the same suite against the API emulator or a real cluster (KUBECONFIG)."""
