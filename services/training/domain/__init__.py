"""The training service's rules in plain Python: periods, the branch routine, the pipeline."""
