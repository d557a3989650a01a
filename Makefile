# The two set-up commands of the README:
#   make lab    install the curriculum, copy lessons into work/ (first use), open work/ in JupyterLab
#   make test   install everything and run every test (what CI runs)
#
# torch is installed first, from TORCH_SPEC, so that installing the project never pulls a
# multi-GB CUDA build (the project only asks for torch>=2.1). Override it for your machine,
# e.g. `make lab TORCH_SPEC="torch --index-url <your CPU wheel index>"`.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: lab test install-lab install-dev corpus unit notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install-lab: $(BIN)/python
	$(PIP) $(TORCH_SPEC)
	$(PIP) -e ".[lab]"

install-dev: $(BIN)/python
	$(PIP) $(TORCH_SPEC)
	$(PIP) -e ".[dev,lab]"

corpus:
	$(BIN)/python -m minispeech.data tiny

lab: install-lab corpus
	$(BIN)/python -m minispeech.start --all
	$(BIN)/jupyter lab work/

unit:
	MINISPEECH_PROFILE=ci $(BIN)/python -m pytest -q --color=no tests/

notebooks:
	$(BIN)/python -m minispeech.grading release --check
	MINISPEECH_PROFILE=ci $(BIN)/python -m pytest -q --color=no --nbval-lax solutions/
	MINISPEECH_PROFILE=ci $(BIN)/python -m pytest -q --color=no --nbval-lax --expect-todo lessons/
	MINISPEECH_PROFILE=ci $(BIN)/python -m pytest -q --color=no --run-notebooks tests/test_mutations.py

test: install-dev corpus unit notebooks
