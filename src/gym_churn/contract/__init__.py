"""The data contract: the declared meaning of a member export (spec) and its checks."""
