"""Alembic runs online only, against DATABASE_URL (see app/db.py)."""
from logging.config import fileConfig

from alembic import context

from app import db

fileConfig(context.config.config_file_name)

with db.engine().connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
