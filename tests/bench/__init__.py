"""Benchmarks on real things (nats-server, SQLite, PostgreSQL) that print figures: `make bench`.

Not tests: nothing here asserts. Each benchmark module exposes `run(options) -> list[Table]`
and is registered in `tests.bench.__main__.BENCHMARKS`.
"""
