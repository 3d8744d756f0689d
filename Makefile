# Two commands on a fresh machine: `make run` serves kefu, `make test` runs the whole suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

EVAL ?= ../shared/eval

.PHONY: run test test-pg install lint eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kefu init
	$(BIN)/kefu migrate
	$(BIN)/kefu serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP)
	$(BIN)/pytest

# The same suite in the scale-out shape: each test on a fresh database of a throwaway PostgreSQL server, every
# kefu it starts sharing a throwaway Redis (Debian's `postgresql` and `redis-server`).
test-pg: $(STAMP)
	$(BIN)/python -m tests.utils.postgres_server $(BIN)/pytest

# Figures against the evaluation data kept outside the project (EVAL=path to override).
eval: $(STAMP)
	$(BIN)/kefu faq eval --kb $(EVAL)/shop/kb.yaml --cases $(EVAL)/shop/faq_dev.csv
	$(BIN)/kefu faq eval --kb $(EVAL)/external/bq_faq_kb.yaml --cases $(EVAL)/external/bq_faq_cases.csv
	$(BIN)/kefu route eval --cases $(EVAL)/shop/emotion_dev.csv

bench: $(STAMP)
	$(BIN)/python -m benchmarks.faq_speed --atec $(EVAL)/external/atec_sentences.txt.gz
	$(BIN)/python -m benchmarks.faq_robustness --kb $(EVAL)/shop/kb.yaml \
		--turns $(EVAL)/external/jddc2019_customer_turns.tsv $(EVAL)/external/ecd_taobao_customer_turns.tsv
	$(BIN)/python -m benchmarks.tokeniser_port --eval $(EVAL)
	$(BIN)/python -m benchmarks.faq_ranking --set "shop dev" $(EVAL)/shop/kb.yaml $(EVAL)/shop/faq_dev.csv \
		--set BQ $(EVAL)/external/bq_faq_kb.yaml $(EVAL)/external/bq_faq_cases.csv
	$(BIN)/python -m benchmarks.routing_check --eval $(EVAL)
	$(BIN)/python -m benchmarks.assignment
	$(BIN)/python -m benchmarks.waiting_line
	$(BIN)/python -m benchmarks.outbox_backlog
	$(BIN)/python -m benchmarks.unanswered
	$(BIN)/python -m benchmarks.daily_report
	$(BIN)/python -m benchmarks.dashboard
	$(BIN)/python -m benchmarks.agent_events
	$(BIN)/python -m benchmarks.http_client
	$(BIN)/python -m benchmarks.cpu_budget
	$(BIN)/python -m benchmarks.intake_write
	$(BIN)/python -m benchmarks.intake_ids
	$(BIN)/python -m benchmarks.wal_checkpoints
	$(BIN)/python -m benchmarks.load
	$(BIN)/python -m benchmarks.load_stages

clean:
	rm -rf $(VENV) kefu.db kefu.db-shm kefu.db-wal .pytest_cache
