"""The gateway's tests. A package, so that pytest (importlib mode) names its modules tests.* and not
gateway.tests.*, which would shadow the gateway package itself."""
