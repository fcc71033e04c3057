# One Makefile: CI runs `make test` (.ci/run), people run `make run`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3

DATA   ?= $(or $(NEWSALERT_SHARED_DATA),../shared/data)

.PHONY: install run once test lint bench eval train clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip==26.3'
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install  ## set up and start the daemon on config/ (console output without Slack credentials)
	$(VENV)/bin/newsalert run

once: install  ## one cycle of every source, deliver, exit
	$(VENV)/bin/newsalert run --once

test: install  ## set up, lint, print the evals, then run the whole test suite (its result is the last line)
	$(VENV)/bin/ruff check service tests bench
	$(VENV)/bin/mypy service
	$(VENV)/bin/hadolint Dockerfile
	@if [ -d "$${NEWSALERT_SHARED_DATA:-../shared/data}" ]; then $(MAKE) --no-print-directory eval; \
	else echo "evals skipped: no shared data at ../shared/data (set NEWSALERT_SHARED_DATA)"; fi
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check service tests bench
	$(VENV)/bin/ruff format --check service tests bench
	$(VENV)/bin/mypy service
	$(VENV)/bin/hadolint Dockerfile

bench: install  ## benchmarks print figures; they assert nothing
	$(PY) bench/parse_speed.py
	$(PY) bench/detect_speed.py
	$(PY) bench/extract_quality.py
	$(PY) bench/cycle.py

eval: install  ## topic detection, story clustering and the extractive summary on the labelled sets (eval/)
	$(PY) bench/eval_topics.py
	$(PY) bench/eval_clusters.py
	$(PY) bench/eval_summary.py

train: install  ## train config/topics.model.json from the labels in eval/ (their tuned-on part) and any LABELS=...
	$(VENV)/bin/newsalert topics train eval/topics_labels.jsonl eval/outlets_topics.jsonl $(LABELS) \
		--corpus $(DATA)/news_stream.jsonl --corpus $(DATA)/outlets_2026/items.jsonl --out config/topics.model.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
