"""Tests of the coverage service."""
