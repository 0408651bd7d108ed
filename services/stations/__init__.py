"""The stations service."""
