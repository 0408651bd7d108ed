"""Use cases of the registry service, one module per feature. They take a unit of work and
never commit themselves (the request or job boundary does)."""
