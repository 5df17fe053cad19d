"""Benchmark of the partner CSV import: 100,000 rows (organizations with one contact each).

Prints the time (wall clock, and CPU time of this process) of three imports on a fresh SQLite
database (and on PostgreSQL with ``--postgres URL``): a first import (every row new), the same file
again (nothing to write), and a file where every row changed (every organization and contact
updated), each with the summary it printed. Beside each, in the same run, the database's limit: the
same organizations and contacts written into a fresh schema by the driver alone (PostgreSQL ``COPY``,
SQLite one ``executemany``, one transaction, no validation), and the ratio import / limit; and the
time to read and validate the file alone (Python, no database). The load average is printed beside
every figure: on a shared machine the wall clock also measures waiting for a core. Not a test.
Goal: under 20 s for 100,000 rows, new or repeated.

    .venv/bin/python benchmarks/csv_import.py                  # SQLite in a temporary folder
    .venv/bin/python benchmarks/csv_import.py --rows 100000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import NullPool, create_engine

from models.db import Database
from scratch_postgres import scratch_postgres
from states.directory import ImportReport, _validate_rows, import_partners_csv

INDUSTRIES = ("chemical", "shipping", "consignment", "social_media", "e_commerce", "banking")
COUNTRIES = ("MX", "US", "CA", "DE", "FR", "NG", "IN", "CN", "BR", "ES")
LANGUAGES = ("en", "es", "fr")


def partner(number: int, region: str) -> tuple[str, ...]:
    """One CSV row: name, industry, country, region, contact_name, contact_email, contact_language."""
    return (f"Partner {number} Compañía S.A.", INDUSTRIES[number % 6], COUNTRIES[number % 10], region,
            f"Contact {number} Müller-Ñandú {region}", f"contact{number}@partner{number}.example", LANGUAGES[number % 3])


def partner_csv(rows: int, region: str = "Región Norte") -> str:
    """``rows`` partners, one contact each, in several languages and scripts."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "industry", "country", "region", "contact_name", "contact_email", "contact_language"])
    writer.writerows(partner(number, region) for number in range(rows))
    return out.getvalue()


def load() -> str:
    return f"load {os.getloadavg()[0]:4.1f}"


def server_cpu(url: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving the database at ``url`` (0 for SQLite, which runs
    in this process), read from /proc: the server runs on this machine. Asked on a connection of its own."""
    if not url.startswith("postgresql"):
        return 0.0
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        pids = connection.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()").scalars().all()
    engine.dispose()
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the backend has just exited
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    """The wall clock, this process's CPU and the database server's CPU of a ``timed`` block."""

    url: str
    wall: float = 0.0
    cpu: float = 0.0
    server: float = 0.0

    def __str__(self) -> str:
        server = f" + {self.server:5.2f} s server" if self.url.startswith("postgresql") else ""
        return f"{self.wall:6.2f} s wall, {self.cpu:5.2f} s CPU here{server}  ({load()})"


@contextmanager
def timed(url: str) -> Iterator[Timing]:
    """Measure the block; the figures are in the ``Timing`` yielded once it ends."""
    timing = Timing(url)
    server, started, cpu = server_cpu(url), time.perf_counter(), time.process_time()
    yield timing
    timing.wall, timing.cpu = time.perf_counter() - started, time.process_time() - cpu
    timing.server = server_cpu(url) - server


def raw_write(url: str, rows: int) -> Timing:
    """The driver alone writing the rows of ``partner_csv(rows)`` into the fresh schema at ``url``, in one transaction."""
    database = Database(url)
    database.migrate()
    organizations, contacts = [], []
    for number in range(rows):
        name, industry, country, region, contact_name, email, language = partner(number, "Región Norte")
        organizations.append((number + 1, name, "partner", industry, country, region))
        contacts.append((number + 1, number + 1, contact_name, email, language, "[]"))
    with database.engine.connect():
        pass  # the pool's connection opened before the clock starts
    with timed(url) as timing, database.engine.begin() as connection:
        driver = connection.connection.driver_connection
        if database.dialect == "postgresql":
            with driver.cursor() as cursor:
                for table, columns, values in (
                    ("organizations", "id, name, type, industry, country, region", organizations),
                    ("contacts", "id, organization_id, name, email, language, opt_outs", contacts),
                ):
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for value in values:
                            copy.write_row(value)
        else:
            driver.executemany("INSERT INTO organizations (id, name, type, industry, country, region) "
                               "VALUES (?, ?, ?, ?, ?, ?)", organizations)
            driver.executemany("INSERT INTO contacts (id, organization_id, name, email, language, opt_outs) "
                               "VALUES (?, ?, ?, ?, ?, ?)", contacts)
    database.dispose()
    return timing


def measure(url: str, limit_url: str, rows: int) -> None:
    """The three imports into ``url``, beside the driver's limit measured on ``limit_url``."""
    first, changed = partner_csv(rows), partner_csv(rows, region="Región Sur")
    with timed("sqlite:") as validation:
        _validate_rows(first, ImportReport())
    print(f"  {'validation alone':>17}: {validation}")
    limit = raw_write(limit_url, rows)
    print(f"  {'database limit':>17}: {limit}  - the same rows written by the driver alone")
    database = Database(url)
    database.migrate()
    for label, text_ in (("all new", first), ("same file again", first), ("every row changed", changed)):
        with timed(url) as timing:
            report = import_partners_csv(database, text_)
        assert not report.errors, report.errors[:3]
        print(f"  {label:>17}: {timing}  {timing.wall / limit.wall:4.1f} x the limit\n{'':>21}{report.summary}")
    database.dispose()


@contextmanager
def scratch_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'engage.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", help="also measure on scratch databases of this PostgreSQL server")
    arguments = parser.parse_args()
    size = len(partner_csv(arguments.rows)) / 1e6
    print(f"{arguments.rows:,} rows, {size:.1f} MB of CSV; {load()} on {os.cpu_count()} cores")
    with scratch_sqlite() as url, scratch_sqlite() as limit_url:
        print("SQLite (WAL):")
        measure(url, limit_url, arguments.rows)
    if arguments.postgres:
        with scratch_postgres(arguments.postgres) as url, scratch_postgres(arguments.postgres) as limit_url:
            print("PostgreSQL:")
            measure(url, limit_url, arguments.rows)


if __name__ == "__main__":
    main()
