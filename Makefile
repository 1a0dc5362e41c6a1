# Thin wrappers over the mnist-study CLI. Uses the active virtualenv or conda
# environment if there is one, otherwise creates .venv here.
PROFILE ?=
PYTEST_ARGS ?=
FORCE ?=
LANGUAGE ?=

ifneq ($(VIRTUAL_ENV),)
ENV_DIR := $(VIRTUAL_ENV)
else ifneq ($(CONDA_PREFIX),)
ENV_DIR := $(CONDA_PREFIX)
else
ENV_DIR := .venv
endif
BIN := $(ENV_DIR)/bin

.PHONY: setup data run report lint test lab bench mutants clean

setup:            ## system packages, Python environment, Jupyter kernel
	@bash scripts/setup.sh "$(ENV_DIR)"

data: setup       ## fetch and verify MNIST into the cache
	$(BIN)/mnist-study data

run: data         ## bring the notebooks up to date (PROFILE=full|smoke|extended|record, default: the last run's, else full; FORCE=1 re-runs all)
	$(BIN)/mnist-study run $(if $(PROFILE),--profile $(PROFILE)) $(if $(FORCE),--force)

report: run       ## run the study, then build report/mnist_report.html and .pdf if they are out of date (LANGUAGE=zh: mnist_report_zh.*; LANGUAGE=all: both, side by side)
	$(BIN)/mnist-study report $(if $(FORCE),--force) $(if $(LANGUAGE),--language $(LANGUAGE))

lint: setup       ## ruff: lint and format check of mnist_utils/, tests/, benchmarks/ and the notebooks' code cells (settings in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint data   ## ruff first, then the unit tests and the end-to-end smoke run (MNIST fetched and verified first, never inside a test)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: setup        ## JupyterLab on the project: START_HERE says where the source and the executed notebooks are
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" START_HERE.ipynb $(if $(filter 0,$(shell id -u)),--allow-root)

bench: setup      ## time smoke and full runs; writes benchmarks/results/pipeline.json
	$(BIN)/python benchmarks/pipeline.py

mutants: setup    ## mutation testing of papers.py, validation.py and evaluation.py; writes benchmarks/results/mutants.json
	$(BIN)/python -m pip install -q -e ".[dev,mutants]"
	$(BIN)/python benchmarks/mutants.py

clean:            ## remove generated report files (keeps the data cache and .venv)
	rm -rf report/executed report/artifacts report/failed report/.staging report/mnist_report.html report/mnist_report.pdf report/.report-inputs.json report/mnist_report_zh.html report/mnist_report_zh.pdf report/.report-inputs.zh.json report/.latex
