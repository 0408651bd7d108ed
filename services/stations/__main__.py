"""`python -m services.stations`: serve the stations service, or run one of its admin commands."""

from libs.common.cli import run
from services.stations.app import definition

if __name__ == "__main__":
    run(definition)
