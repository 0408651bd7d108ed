"""`python -m services.coverage`: serve the coverage service, or run one of its admin commands
(the platform's, and `rebuild`: the projection rebuilt from the registry's stream)."""

from libs.common.cli import run
from services.coverage.app import definition

if __name__ == "__main__":
    run(definition)
