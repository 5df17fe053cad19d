"""Cold start of the `engage` command; prints figures (targets in brackets), asserts nothing.

Each run is a fresh interpreter doing what the `engage` script does, against a SQLite database holding
the sample data and one engagement with its audit trail. Prints the median and best wall time over
``--runs`` runs per command, the median CPU time (user + system, less sensitive to other load on the
machine), the load average before and after, where `engage list` spends its import time
(``python -X importtime``, self time summed per top-level package), and the floor under every command:
the interpreter alone, and the command-line stack (Click, and the Rich modules the commands print with) without
any of the project's code.

    .venv/bin/python benchmarks/cli_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGAGE = "import sys; from cli.app import main; sys.exit(main())"
COMMANDS: list[tuple[list[str], float]] = [
    (["--help"], 0.25),
    (["list"], 0.25),
    (["org", "list"], 0.25),
    (["show", "1"], 0.25),
    (["history", "1"], 0.25),
]
FLOORS = {
    "python -c pass": "pass",
    "click + rich": "import click, rich.console, rich.table, rich.text",
}


def prepare(data_dir: Path) -> None:
    """A database with the sample data and engagement 1 awaiting its co-chairs' approval."""
    sys.path.insert(0, str(ROOT))
    from models.db import Database
    from states.directory import load_sample
    from states.workflow import apply_transition, create_engagement

    database = Database(f"sqlite:///{data_dir / 'engage.db'}")
    database.migrate()
    load_sample(database)
    engagement = create_engagement(database, {
        "kind": "swg_presentation", "title": "Meta presents at SWG 2.2", "swg_code": "2.2",
        "details": {"topic": "Detecting drug sales online"}, "participants": [{"organization": "Meta", "role": "presenter"}],
    }, {"role": "secretariat", "identity": "staff@state.example"})
    apply_transition(database, engagement, "request_approval", {"role": "secretariat", "identity": "staff@state.example"})
    database.dispose()


def one_run(args: list[str], env: dict[str, str], code: str = ENGAGE) -> tuple[float, float]:
    """Wall and CPU seconds of one `engage ARGS` (or of ``code``) in a new interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_profile(args: list[str], env: dict[str, str]) -> None:
    """Print how many modules ``engage ARGS`` imports and the packages that take longest to import."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", ENGAGE, *args], env=env, cwd=ROOT, check=True,
                          capture_output=True, text=True)
    per_package: Counter[str] = Counter()
    lines = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")][1:]
    for self_us, _cumulative, name in lines:
        per_package[name.strip().split(".")[0]] += int(self_us.removeprefix("import time:"))
    top = ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in per_package.most_common(8))
    print(f"  engage {' '.join(args)} imports {len(lines)} modules in {sum(per_package.values()) / 1e6:.3f} s: {top}")


def cold_starts(runs: int) -> None:
    """Print the cold-start figures of every read-only command."""
    with tempfile.TemporaryDirectory(prefix="engage-bench-cli-") as folder:
        data_dir = Path(folder)
        prepare(data_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGE_")} | {"ENGAGE_DATA_DIR": str(data_dir)}
        print(f"  load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  ({os.cpu_count()} cores)")
        for args, target in COMMANDS:
            one_run(args, env)  # bytecode caches warm, as for any installed command
            walls, cpus = zip(*(one_run(args, env) for _ in range(runs)))
            print(f"  engage {' '.join(args):<10} median {statistics.median(walls):.3f} s  best {min(walls):.3f} s  "
                  f"CPU median {statistics.median(cpus):.3f} s  [<= {target} s, median of {runs}]")
        for name, code in FLOORS.items():
            walls, cpus = zip(*(one_run([], env, code) for _ in range(runs)))
            print(f"  floor: {name:<36} median {statistics.median(walls):.3f} s  CPU median {statistics.median(cpus):.3f} s")
        print(f"  load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        import_profile(["list"], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    cold_starts(parser.parse_args().runs)


if __name__ == "__main__":
    main()
