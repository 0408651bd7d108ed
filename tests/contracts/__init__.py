"""Contract tests: each consumer's model against its producer's exported event schema."""
