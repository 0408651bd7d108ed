"""`python -m services.training`: serve the training service, or run one of its admin commands."""

from libs.common.cli import run
from services.training.app import definition

if __name__ == "__main__":
    run(definition)
