"""pytest fixtures over the local platform (:mod:`kratix_py.local_platform`), for this project and
for Promise authors: ``pytest_plugins = ["kratix_py.testing.fixtures", "kratix_py.testing.fixtures_podman"]``."""
