# Two commands for a newcomer (see README): `make book` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: setup book test notebooks lab benchmark screenshots clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

# The main job: build the book (every notebook's stored, nbval-verified results) and open it.
book: setup
	$(BIN)/jupyter-book build book/ --warningiserror --keep-going
	@echo "Book: file://$(CURDIR)/book/_build/html/index.html"
	-@$(BIN)/python -m webbrowser -t "file://$(CURDIR)/book/_build/html/index.html" >/dev/null 2>&1

# All tests: unit, property, CLI and audit tests, plus nbval over every stored notebook result.
test: setup
	$(BIN)/python -m pytest

# Re-execute every notebook in place (after a change to costmodel), then review `git diff notebooks/`.
notebooks: setup
	@for nb in $(NOTEBOOKS); do echo "executing $$nb"; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.record_timing=False "$$nb" || exit 1; \
	  $(BIN)/python tools/strip_metadata.py "$$nb"; done

# JupyterLab on the notebooks; extra options through ARGS (make lab ARGS="--no-browser --port 8899").
# As root (a container, CI) JupyterLab refuses to start without --allow-root: add it there only.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: setup
	$(BIN)/jupyter lab notebooks/ $(ALLOW_ROOT) $(ARGS)

benchmark: setup
	$(BIN)/python benchmarks/search_speed.py

# A full-page PNG of every page of the built book at 1280 px, in book/_build/screenshots (needs chromium).
screenshots: setup
	$(BIN)/python tools/screenshots.py $(ARGS)

clean:
	rm -rf book/_build .pytest_cache .hypothesis
