"""Domain rules of the registry service, in plain Python."""
