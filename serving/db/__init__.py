"""Database: typed ORM models, engine and session factory."""
