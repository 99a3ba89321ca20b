# The course's commands. `make book` and `make test` create the environment (.venv) on first use.
#   make book        build the HTML book into _build/html (executes every page; fails on any error or warning),
#                    check it for leaked solutions, and open every page in headless Chromium (screenshots
#                    in _build/screenshots)
#   make test        run the test suite (library, checks, grader self-tests, book pages) on the cores, with
#                    pytest-xdist; pages that `make book` executed are checked against its cache, not rerun
#   make test-fast   the same without the slow tests (nbgrader batches, book pages, the browser): a minute or two
#   make release     regenerate notebooks/ from solutions/ after editing an assignment
#   make grade A=ch03_vae   autograde every submission in submitted/ (parallel, sandboxed) and write the feedback
#   make benchmark   time every page and a whole book build from a cold cache, and autograding (minutes;
#                    run it on a quiet machine); writes the table the book's Build status page shows
#   make book-clean  remove the build and its execution cache (for a cold build)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: book test test-fast system release book-clean env benchmark grade

env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt grader/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

# Chromium and bubblewrap, installed when missing and possible (scripts/system_packages.sh says what it did)
system:
	@bash scripts/system_packages.sh

book: env system
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	$(BIN)/python scripts/check_site.py _build/html
	@if [ -n "$$CI" ] || [ -n "$$CHROMIUM" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then \
	  echo "$(BIN)/python scripts/check_browser.py _build/html --screenshots _build/screenshots"; \
	  $(BIN)/python scripts/check_browser.py _build/html --screenshots _build/screenshots; \
	else \
	  echo "make book: skipped the browser check (scripts/check_browser.py): Chromium is not installed; enable it with: sudo apt-get install chromium"; \
	fi

# pytest-xdist workers: the cores, at most 4 (each grading worker starts sandboxed probes of ~0.5 GB)
TEST_JOBS ?= $(shell $(PYTHON) -c "import os; print(min(4, os.cpu_count() or 1))")

test: env system
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadgroup

# the unit tests alone: no nbgrader batches, no book pages, no browser (a minute or two)
test-fast: env system
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n $(TEST_JOBS) -m "not slow"

release: env
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/release.py

book-clean:
	rm -rf _build

benchmark: env
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/benchmark.py --build

grade: env
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/grade.py autograde $(A)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbgrader generate_feedback $(A) --force
