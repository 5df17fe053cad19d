# The two commands of the README: `make demo` (the main job) and `make test` (the whole suite).
# Both create .venv and install the locked dependency set first; `make test` also sets up what its tests
# need from the machine (scripts/test-prerequisites.sh: Debian packages as root, the local PostgreSQL).

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
AXE := .tools/node_modules/axe-core/axe.min.js
MINISEARCH := .tools/minisearch/node_modules/minisearch/dist/umd/index.js

.PHONY: demo test test-fast bench prerequisites docs assets

# uv (pinned in requirements.lock like the rest) installs the set in parallel: ~25 s where pip took ~55 s.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c requirements.lock uv
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --compile-bytecode -c requirements.lock -e '.[test]'
	touch $(STAMP)

# The project's modules compiled ahead: where PYTHONDONTWRITEBYTECODE is set, every process (the CLI,
# each flow run, each portal worker) would otherwise compile them from source again (~0.1 s each).
COMPILE := $(VENV)/bin/python -m compileall -q cli flows models notifications portal report states website settings.py

demo: $(STAMP) $(MINISEARCH)
	$(COMPILE)
	$(VENV)/bin/engage demo

# Everything, on every core: one session per worker (its own PostgreSQL database and Prefect API);
# tests go out one at a time, the costliest first (tests/conftest.py), so no long test starts last.
# A test that lacks a tool fails (ENGAGE_ALLOW_SKIPS=1 lets it skip), so `make test` sets up the machine first.
test: $(STAMP) prerequisites $(AXE) $(MINISEARCH)
	$(COMPILE)
	$(VENV)/bin/pytest -n auto --maxschedchunk 1

# The domain tier only: no database, no server, no browser; on every core too.
test-fast: $(STAMP) $(MINISEARCH)
	$(COMPILE)
	$(VENV)/bin/pytest -n auto -m "not (database or prefect or smtp or browser)"

# The lifecycle diagrams, drawn from the declarations (tests/test_docs.py checks they are current).
docs: $(STAMP)
	$(VENV)/bin/python scripts/lifecycles_doc.py > docs/lifecycles.md

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/core_path.py

# What the tests need from the machine: Debian packages (installed as root when missing, or the command
# to run is printed) and the local PostgreSQL (started when down). The same on a newcomer's machine and in CI.
prerequisites:
	scripts/test-prerequisites.sh

# MiniSearch (the site's search box, also from file://), from npm, pinned: every publication copies it,
# with its licence, into the site's assets/. Its own folder: npm would prune axe-core from a shared one.
assets: $(MINISEARCH)
$(MINISEARCH):
	@command -v npm >/dev/null || { echo "npm installs MiniSearch, the site's search: sudo apt-get install npm" >&2; exit 1; }
	npm install --silent --no-save --prefix .tools/minisearch minisearch@7.2.0

# axe-core (accessibility checks of the browser tests), installed into a git-ignored folder.
$(AXE): | prerequisites
	npm install --silent --no-save --prefix .tools axe-core@4.14.1

# The Spanish and French catalogs (locale/<lang>.po) brought up to date with the marked strings:
# new msgids are added untranslated, vanished ones are kept commented out (#~) at the end.
# The catalogs are read at run time (website/i18n.py): there is nothing to compile.
CATALOG_LANGUAGES := es fr
.PHONY: catalogs
catalogs: $(STAMP)
	$(VENV)/bin/pybabel --quiet extract -F babel.cfg --no-location --no-wrap -k N_plural:1,2 --project "Coalition Engage" -o locale/messages.pot .
	for lang in $(CATALOG_LANGUAGES); do \
	  $(VENV)/bin/pybabel --quiet update -i locale/messages.pot -o locale/$$lang.po -l $$lang --no-fuzzy-matching --no-wrap --ignore-pot-creation-date || exit 1; \
	done
	rm locale/messages.pot
