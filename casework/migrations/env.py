"""Alembic environment: the engine comes from casework (config.attributes['engine'])."""

from alembic import context

from casework.models import Base
from casework.name_index import of_the_models

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            # The name index (FTS5 table, pg_trgm indexes) is made by hand, not by the models.
            include_object=of_the_models,
        )
        context.run_migrations()


run_migrations_online()
