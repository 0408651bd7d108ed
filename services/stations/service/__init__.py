"""Use cases of the stations service, one module per feature.

They take the service's unit of work (`StationsUnitOfWork`, named here for the routes, which do
not reach into `store/`) and never commit: the request or the job that calls them owns the
transaction.
"""

from services.stations.store.uow import StationsUnitOfWork

__all__ = ["StationsUnitOfWork"]
