"""Routes of the training service, one module per feature."""
