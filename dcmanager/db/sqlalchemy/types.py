"""Column types that must be the same in the models and the migrations."""

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# Microsecond timestamps everywhere: MySQL's plain DATETIME drops the fraction, and
# leases and event order need it.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")

# Text of up to a few megabytes: MySQL's TEXT holds only 64 KiB.
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")

# Options of every table. SQLite would hand the id of a deleted last row to the next
# insert; ids are never reused (a stale reference must not find a different object).
# MySQL tables take any Unicode text (utf8mb4) and compare it exactly (utf8mb4_bin), as
# PostgreSQL and SQLite do: "Edge" and "edge" are different names everywhere.
TABLE_OPTIONS = {
    "sqlite_autoincrement": True,
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}
