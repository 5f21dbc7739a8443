# Two commands matter: `make demo` (set up, run the lab) and `make test` (set up, run the tests).
# `make test-fast` is the inner loop: no real servers or browser, no long simulations, on two
# processes (pytest-xdist): under a minute on 2 cores.
VENV   := .venv
PY     := $(VENV)/bin/python
ASIM   := $(VENV)/bin/asim
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup ab chromium demo test test-fast bench lint clean

setup: $(STAMP) ab

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# ApacheBench comes from Debian's apache2-utils; as root we install it, otherwise we say how.
ab:
	@command -v ab >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing ApacheBench (apache2-utils)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2-utils >/dev/null; \
	  else \
	    echo "asim needs ApacheBench: run 'sudo apt-get install apache2-utils' and try again" >&2; exit 1; \
	  fi; }

# The explore page's browser tests drive Debian's chromium; as root we install it, otherwise we
# say how (without it those tests skip and everything else still runs).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Chromium (Debian's chromium) for the explore page's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: the explore page's browser tests will skip: run 'sudo apt-get install chromium' to run them" >&2; \
	  fi; }

# The lab end to end (about 5 minutes on 2 cores): measure this machine, predict the seed's
# grid, run it for real, then the lecture figures.
demo: setup
	$(ASIM) calibrate
	$(ASIM) predict --workers 1 --sleep 0.1
	$(ASIM) validate all --repeat 1 --out results/demo
	$(ASIM) lecture --out results/demo/lecture

# The simulations run on two processes; the tests that start real servers and ab, or drive the
# browser, run one at a time afterwards, alone on the machine.
test: setup chromium
	$(PY) -m pytest -m "not live and not browser" -n 2
	$(PY) -m pytest -m "live or browser"

test-fast: setup
	$(PY) -m pytest -m "not live and not slow and not browser" -n 2

bench: setup
	$(PY) benchmarks/run.py
	$(PY) benchmarks/explore.py

lint: setup
	$(VENV)/bin/ruff check asim tests benchmarks tools

clean:
	rm -rf $(VENV) results .pytest_cache
