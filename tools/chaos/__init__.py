"""The fault suite behind `make chaos`: real processes on loopback, real faults, a verdict.

`python -m tools.chaos` starts nats-server and the four services as their own processes, drives
imports and API writes through the registry, kills nats-server three times and every service
once mid-batch (SIGKILL, then restarted), cuts the services' PostgreSQL connections (on
PostgreSQL), and then checks every consumer's state against the registry's store: nothing lost,
nothing doubled, no dead letter without a reason, and how long each fault took to recover from.
See docs/chaos.md.
"""
