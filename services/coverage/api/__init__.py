"""HTTP routes of the coverage service."""
