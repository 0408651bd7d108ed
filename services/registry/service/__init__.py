"""Use cases of the registry service, one module per feature.

They take the service's unit of work (`RegistryUnitOfWork`, named here for the routes, which do
not reach into `store/`) and never commit: the request or the job that calls them owns the
transaction.
"""

from services.registry.store.uow import RegistryUnitOfWork

__all__ = ["RegistryUnitOfWork"]
