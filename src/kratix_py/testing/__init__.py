"""The local platform for tests: a Kubernetes API emulator and the other stand-ins for a cluster."""
