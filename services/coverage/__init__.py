"""The coverage service."""
