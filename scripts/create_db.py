"""Create the database named in DATABASE_URL when it does not exist (idempotent)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from psycopg import sql  # noqa: E402

db = settings.DATABASES["default"]
conninfo = {"host": db.get("HOST") or None, "port": db.get("PORT") or None, "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None, "dbname": "postgres"}
with psycopg.connect(**{k: v for k, v in conninfo.items() if v}, autocommit=True) as conn:
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
    if not exists:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
        print(f"created database {db['NAME']}")
