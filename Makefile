# The two commands of the README: `make demo` (the main job) and `make test` (the whole suite).
# Both create .venv and install the locked dependency set first; nothing else is needed but python3.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

# The project's modules compiled ahead: where PYTHONDONTWRITEBYTECODE is set, every process (the CLI,
# each flow run, each portal worker) would otherwise compile them from source again (~0.1 s each).
COMPILE := $(VENV)/bin/python -m compileall -q cli flows models notifications portal report states website settings.py

demo: $(STAMP)
	$(COMPILE)
	$(VENV)/bin/engage demo

# Everything, on every core: one session per worker (its own PostgreSQL database and Prefect API);
# tests go out one at a time, the costliest first (tests/conftest.py), so no long test starts last.
test: $(STAMP)
	$(COMPILE)
	$(VENV)/bin/pytest -n auto --maxschedchunk 1

# The domain tier only: no database, no server, no browser; on every core too.
test-fast: $(STAMP)
	$(COMPILE)
	$(VENV)/bin/pytest -n auto -m "not (database or prefect or smtp or browser)"

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/core_path.py

# axe-core (accessibility checks of the browser tests), installed into a git-ignored folder.
AXE := .tools/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --silent --no-save --prefix .tools axe-core@4.14.1

test: $(AXE)

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
