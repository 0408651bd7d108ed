"""The stations service's store: tables, repositories, migrations."""
