# The course's commands. `make book` and `make test` create the environment (.venv) on first use.
#   make book        build the HTML book into _build/html (executes every page; fails on any error or warning),
#                    check it for leaked solutions, and open every page in headless Chromium (screenshots
#                    in _build/screenshots)
#   make test        run the test suite (library, checks, grader self-tests, book pages)
#   make release     regenerate notebooks/ from solutions/ after editing an assignment
#   make grade A=ch03_vae   autograde every submission in submitted/ (parallel, sandboxed) and write the feedback
#   make benchmark   time every page and a whole book build from a cold cache, and autograding (minutes;
#                    run it on a quiet machine); writes the table the book's Build status page shows
#   make book-clean  remove the build and its execution cache (for a cold build)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: book test release book-clean env benchmark grade

env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt grader/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

book: env
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	$(BIN)/python scripts/check_site.py _build/html
	$(BIN)/python scripts/check_browser.py _build/html --screenshots _build/screenshots

test: env
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

release: env
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/release.py

book-clean:
	rm -rf _build

benchmark: env
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/benchmark.py --build

grade: env
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/grade.py autograde $(A)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbgrader generate_feedback $(A) --force
