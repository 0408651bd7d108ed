"""The event documentation: JSON Schemas, an AsyncAPI 3.0 document and a README, from the catalogue.

`python -m tools.docs docs/events` (`make docs`) writes the folder;
`python -m tools.docs docs/events --check` (`make docs-check`) exits 1 when the folder is not
what would be written, naming the stale, missing and extra files.

The output is deterministic: keys are sorted and there are no timestamps, so only a change in
the code changes it.
"""

from tools.docs.asyncapi import ASYNCAPI_VERSION, asyncapi_document, headers_schema
from tools.docs.cli import main
from tools.docs.folder import DocsDiff, Written, check, generate, write
from tools.docs.model import ConsumerRef, DocsError, EventDoc, EventMap, discover
from tools.docs.readme import readme
from tools.docs.schemas import JSON_SCHEMA_DIALECT, SCHEMA_BASE_URI, event_schema, schema_path

__all__ = [
    "ASYNCAPI_VERSION",
    "JSON_SCHEMA_DIALECT",
    "SCHEMA_BASE_URI",
    "ConsumerRef",
    "DocsDiff",
    "DocsError",
    "EventDoc",
    "EventMap",
    "Written",
    "asyncapi_document",
    "check",
    "discover",
    "event_schema",
    "generate",
    "headers_schema",
    "main",
    "readme",
    "schema_path",
    "write",
]
