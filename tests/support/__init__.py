"""Real peers for the tests: servers on loopback, repositories in temporary folders."""
