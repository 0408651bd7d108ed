"""Developer tooling, run from the repository root as `python -m tools.<name>`.

Nothing in libs/ or services/ imports it: the runtime library holds no tooling.
"""
