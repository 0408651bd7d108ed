"""The coverage service's store: tables, repositories, migrations."""
