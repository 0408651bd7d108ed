"""The training service's store: tables, repositories, migrations."""
