"""Use cases of the training service, one module per feature.

They take the service's unit of work (`TrainingUnitOfWork`, named here for the routes, which do
not reach into `store/`) and never commit: the request, consumer or worker that calls them owns
the transaction.
"""

from services.training.store.uow import TrainingUnitOfWork

__all__ = ["TrainingUnitOfWork"]
