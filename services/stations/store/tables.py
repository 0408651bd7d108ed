"""Tables of the stations service's store (its features come with their own issue)."""

from sqlalchemy import MetaData

metadata = MetaData()
