# One virtualenv for running and testing; `make run` and `make test` create it on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# The default demo: SalUn with its digits preset (conf/method/digits/salun.yaml) on the bundled digits data, class-wise
# forgetting of class 0: there Retrain differs from the original (on random forgetting of digits it does not).
ARGS ?= method=digits/salun scenario=classwise

.PHONY: install run test test-all lint clean reproduce-cpu reproduce-fmnist

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,wandb]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m unlearn_bench $(ARGS)
	@$(PY) -c "from unlearn_bench.data.datasets import fashion_mnist_files as found; found('data') and \
	print('Fashion-MNIST is installed: make reproduce-fmnist runs the CPU benchmark (results/fmnist/README.md)')"

# The Fashion-MNIST CPU benchmark: equal tuning per setting on two seeds, tables on ten held-out seeds, the papers'
# claims by paired tests (scripts/reproduce_fmnist.py; results/fmnist/). Resumable; FMNIST_ARGS='--stages report'
# remakes the tables and claims from the committed per-seed CSVs.
reproduce-fmnist: install
	$(PY) scripts/reproduce_fmnist.py $(FMNIST_ARGS)

test: install
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

# The *_cpu paper presets on digits: tables and figures into results/cpu/<preset>/ (scripts/reproduce_cpu.py;
# REPRODUCE_ARGS='--presets sure_table1_cpu' for one). Sweeps go to outputs/reproduce_cpu, models to the cache.
reproduce-cpu: install
	$(PY) scripts/reproduce_cpu.py $(REPRODUCE_ARGS)

clean:
	rm -rf outputs .cache multirun
