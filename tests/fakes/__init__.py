"""Local servers that speak vendors' protocols, for tests that drive real clients."""
