"""HTTP routes of the stations service."""
