# cornlib: two commands do everything on a fresh machine.
#   make book   build the environment if missing, then the book (every notebook, small profile)
#   make test   build the environment if missing, then the test suite (what .ci/run calls)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The local CPU build of torch; on a GPU box install your CUDA torch first and set TORCH= (empty).
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.cornlib-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: env book book-force test test-fast run-small run-full clean

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if [ -n "$(TORCH)" ]; then $(BIN)/python -m pip install -q "$(TORCH)"; fi
	$(BIN)/python -m pip install -q -e ".[book,test]"
	@echo "compiling the numba kernels of TF-MoDISco and Tomtom (cached on disk, once)"
	$(BIN)/python -m cornlib.interpret.motifs
	@touch $(STAMP)

# Progress bars are for people at a terminal or in Jupyter, not for the rendered pages.
BOOK := TQDM_DISABLE=1 $(BIN)/jupyter-book build . --all -W -n --keep-going

book: env
	$(BOOK)

book-force: env
	rm -rf _build/.jupyter_cache runs/small
	$(BOOK)

# The linter first (ruff, configured in pyproject.toml), then every test.
test: env
	$(BIN)/ruff check cornlib tests benchmarks
	$(BIN)/python -m pytest

test-fast: env
	$(BIN)/ruff check cornlib tests benchmarks
	$(BIN)/python -m pytest -m "not notebooks"

run-small: env
	$(BIN)/python -m cornlib.run --profile small

run-full: env
	$(BIN)/python -m cornlib.run --profile full

clean:
	rm -rf _build runs build
