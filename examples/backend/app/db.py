"""Connections from the environment the compose file sets: DATABASE_URL and
REDIS_URL, with the passwords where berth finds them too (PGPASSWORD_FILE,
REDISCLI_AUTH), so the app and its health checks share one configuration."""
import os

import redis
import sqlalchemy


def _secret(name):
    path = os.environ.get(name + "_FILE")
    if path:
        with open(path) as f:
            return f.read().strip()
    return os.environ.get(name)


def database_url():
    url = sqlalchemy.engine.make_url(os.environ["DATABASE_URL"])
    url = url.set(drivername="postgresql+psycopg2")
    password = _secret("PGPASSWORD")
    return url.set(password=password) if password else url


def engine():
    return sqlalchemy.create_engine(database_url(), pool_pre_ping=True)


def cache():
    return redis.Redis.from_url(os.environ["REDIS_URL"], password=_secret("REDISCLI_AUTH"))
