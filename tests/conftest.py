pytest_plugins = ["kratix_py.testing.fixtures"]
