"""The example API: /healthz answers while the process serves (the health
check that decides on restarts must not fail because a dependency blips),
/visits writes a row to PostgreSQL and counts in Redis."""
import os
import socket

import sqlalchemy
from flask import Flask, jsonify

from . import db

app = Flask(__name__)
engine = db.engine()
cache = db.cache()


@app.get("/healthz")
def healthz():
    return "ok\n"


@app.get("/visits")
def visits():
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT count(*) FROM visits")).scalar_one()
    return jsonify(rows=rows, counter=int(cache.get("visits") or 0))


@app.post("/visits")
def visit():
    host = socket.gethostname()
    with engine.begin() as conn:
        row = conn.execute(
            sqlalchemy.text("INSERT INTO visits (served_by) VALUES (:host) RETURNING id"),
            {"host": host},
        ).scalar_one()
        rows = conn.execute(sqlalchemy.text("SELECT count(*) FROM visits")).scalar_one()
    return jsonify(id=row, rows=rows, counter=cache.incr("visits"), served_by=host), 201
