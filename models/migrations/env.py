"""Alembic environment: the URL comes from relops settings (DATABASE_URL), never from a file."""

from alembic import context
from sqlalchemy import create_engine, pool

from models.tables import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    from relops.settings import get_settings

    url = get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
