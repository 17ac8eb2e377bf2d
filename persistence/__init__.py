"""SQLAlchemy 2.0 async persistence: tables, mapping of domain entities, repositories, unit of work."""
