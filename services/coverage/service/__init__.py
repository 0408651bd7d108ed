"""Use cases of the coverage service, one module per feature: the projection, rates and their
history, snapshots, targets, the debounced rates announcement, the gap list and its export,
joint-branch proposals, and the rebuild's steps.

They take the service's unit of work (`CoverageUnitOfWork`, named here for the routes, which do
not reach into `store/`) and never commit: the inbox, the request or the worker that calls them
owns the transaction.
"""

from services.coverage.store.uow import CoverageUnitOfWork

__all__ = ["CoverageUnitOfWork"]
