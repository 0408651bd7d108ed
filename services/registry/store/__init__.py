"""The registry service's store: tables, repositories, migrations."""
