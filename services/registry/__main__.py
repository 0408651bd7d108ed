"""`python -m services.registry`: serve the registry service, or run one of its admin commands."""

from libs.common.cli import run
from services.registry.app import definition

if __name__ == "__main__":
    run(definition)
