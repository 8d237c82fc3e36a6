pytest_plugins = [
    "kratix_py.testing.fixtures",
    "kratix_py.testing.fixtures_podman",
    "kratix_py.testing.fixtures_controlplane",
]
