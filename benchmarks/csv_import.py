"""Benchmark of the partner CSV import: 100,000 rows (organizations with one contact each).

Prints the time (wall clock, and CPU time of this process) to validate every row and to write them
in batches, on a fresh SQLite database (and on PostgreSQL with ``--postgres URL``): a first import
(every row new), the same file again (nothing to write), and a file where every row changed (every
organization and contact updated). Not a test. Goal: under 20 s for 100,000 rows.

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
from pathlib import Path

from models.db import Database
from scratch_postgres import scratch_postgres
from states.directory import import_partners_csv

INDUSTRIES = ("chemical", "shipping", "consignment", "social_media", "e_commerce", "banking")
COUNTRIES = ("MX", "US", "CA", "DE", "FR", "NG", "IN", "CN", "BR", "ES")


def partner_csv(rows: int, region: str = "Región Norte") -> str:
    """``rows`` partners, one contact each, in several languages and scripts."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "industry", "country", "region", "contact_name", "contact_email", "contact_language"])
    for number in range(rows):
        writer.writerow([
            f"Partner {number} Compañía S.A.", INDUSTRIES[number % 6], COUNTRIES[number % 10], region,
            f"Contact {number} Müller-Ñandú {region}", f"contact{number}@partner{number}.example", ("en", "es", "fr")[number % 3],
        ])
    return out.getvalue()


def measure(url: str, rows: int) -> None:
    database = Database(url)
    database.migrate()
    first, changed = partner_csv(rows), partner_csv(rows, region="Región Sur")
    for label, text_ in (("all new", first), ("same file again", first), ("every row changed", changed)):
        started, cpu = time.perf_counter(), time.process_time()
        report = import_partners_csv(database, text_)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert not report.errors, report.errors[:3]
        print(f"  {label:>17}: {elapsed:6.2f} s wall, {cpu:6.2f} s CPU in this process  ({rows / elapsed:,.0f} rows/s)"
              f" - {report.summary}")
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", help="also measure on a scratch database of this PostgreSQL server")
    arguments = parser.parse_args()
    size = len(partner_csv(arguments.rows)) / 1e6
    print(f"{arguments.rows:,} rows, {size:.1f} MB of CSV; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite (WAL):")
        measure(f"sqlite:///{Path(folder) / 'engage.db'}", arguments.rows)
    if arguments.postgres:
        with scratch_postgres(arguments.postgres) as url:
            print("PostgreSQL:")
            measure(url, arguments.rows)

if __name__ == "__main__":
    main()
