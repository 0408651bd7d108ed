"""Domain rules of the coverage service, in plain Python."""
