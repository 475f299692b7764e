# claimstore: the operator's and developer's entry points.
#
#   make serve   set up .venv and serve on 127.0.0.1:50051 over claimstore.db
#   make test    set up .venv and run the whole test suite
#   make seed    load data/seed/ into the running server
#   make check-db    check the database file for damage (read only)
#   make query SPEAKER=Peskov    list claims (also TOPIC=, SINCE=, UNTIL=, PUBLISHER=)
#   make export > claims.jsonl   every claim (or those the same filters pick), as JSON Lines
#   make import FILE=claims.jsonl    import JSON Lines files
#
# Every target that needs Python builds the virtual environment first, so a
# fresh clone needs nothing but Python 3.11+ and make. Set-up messages go to
# stderr, so that `make export > claims.jsonl` writes nothing but claims.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= claimstore.db
LISTEN ?= 127.0.0.1:50051
# The server the client targets talk to: $CLAIMSTORE_TARGET, else the one `make serve` runs.
TARGET ?= $(if $(CLAIMSTORE_TARGET),$(CLAIMSTORE_TARGET),$(LISTEN))
CLI = $(BIN)/claimstore
TOOLS := .tools
BUF := $(TOOLS)/node_modules/.bin/buf
BUF_VERSION := 1.75.0
PROTO_FILES := $(wildcard protos/claimstore/v1/*.proto)
SERVICE_PROTOS := $(wildcard protos/claimstore/v1/*_service.proto)
GEN_DIR := client

.PHONY: help venv serve test check-db seed query search speakers export import lint fmt proto proto-check buf-lint bench bench-bulk bench-search bench-watch clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	@echo "setting up $(VENV) (Python packages: claimstore with its server, cli and dev extras)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2
	@$(BIN)/python -m pip install --quiet -e '.[server,cli,dev]' >&2
	@touch $@

venv: $(BIN)/.installed ## create .venv and install claimstore with its server, cli and dev extras

serve: venv ## serve the API on LISTEN (127.0.0.1:50051) over the SQLite file DB (claimstore.db)
	$(BIN)/claimstore serve --db $(DB) --listen $(LISTEN)

test: venv ## run the whole test suite against real servers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check-db: venv ## check the SQLite file DB (claimstore.db) for damage; it is only read
	$(CLI) check --db $(DB)

seed: venv ## load data/seed/ into the server at TARGET (what `make serve` runs); twice is harmless
	@$(CLI) import --target $(TARGET) data/seed/*.jsonl

# The filters of `make query` and `make search` reach the shell as environment variables, so
# that any value (quotes, spaces, accents) arrives as typed; given as --option=VALUE, and the
# query after --, so that a value beginning with "-" (Q=-Russia) is not taken for an option.
export Q SPEAKER TOPIC SINCE UNTIL PUBLISHER
FILTERS = $${SPEAKER:+--speaker="$$SPEAKER"} $${TOPIC:+--topic="$$TOPIC"} \
	$${SINCE:+--since="$$SINCE"} $${UNTIL:+--until="$$UNTIL"} \
	$${PUBLISHER:+--publisher="$$PUBLISHER"}

query: venv ## list claims; narrow with SPEAKER=, TOPIC=, SINCE=, UNTIL=, PUBLISHER=
	@$(CLI) list --target $(TARGET) $(FILTERS)

search: venv ## search claims, best first: make search Q='"peace plan"' (and the query filters)
	@test -n "$$Q" || { echo "make search: give the words to look for: make search Q=capitulation" >&2; exit 2; }
	@$(CLI) search --target $(TARGET) $(FILTERS) -- "$$Q"

speakers: venv ## list speakers with their claim counts
	@$(CLI) speakers --target $(TARGET)

export: venv ## write claims to stdout as JSON Lines: make export > claims.jsonl (and the query filters)
	@$(CLI) export --target $(TARGET) $(FILTERS)

import: venv ## import JSON Lines files through the API: make import FILE=claims.jsonl (or FILE='a.jsonl b.jsonl')
	@test -n "$(FILE)" || { echo "make import: name the files to import: make import FILE=claims.jsonl" >&2; exit 2; }
	@$(CLI) import --target $(TARGET) $(FILE)

proto: venv ## regenerate client/claimstore/v1 from protos/
	rm -f $(GEN_DIR)/claimstore/v1/*_pb2*.py $(GEN_DIR)/claimstore/v1/*_pb2*.pyi
	$(BIN)/python -m grpc_tools.protoc -I protos --python_out=$(GEN_DIR) \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --mypy_out=$(GEN_DIR) $(PROTO_FILES)
	$(BIN)/python -m grpc_tools.protoc -I protos --grpc_python_out=$(GEN_DIR) \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc --mypy_grpc_out=$(GEN_DIR) \
		$(SERVICE_PROTOS)

proto-check: proto ## fail when the committed generated code differs from what `make proto` makes
	@git add --intent-to-add --all $(GEN_DIR)/claimstore/v1 2>/dev/null || true
	@git diff --exit-code --stat -- $(GEN_DIR)/claimstore/v1 \
		|| (echo "generated code is stale: run 'make proto' and commit the result" >&2; exit 1)

$(BUF):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) @bufbuild/buf@$(BUF_VERSION)

buf-lint: $(BUF) ## lint the .proto files with buf (STANDARD and COMMENTS rules)
	$(BUF) lint

lint: venv buf-lint ## ruff, mypy and buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: venv ## format the Python code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv ## unary calls against Check (builds 100,000 claims once, then ~1 minute)
	$(BIN)/python -m benchmarks.unary

bench-bulk: venv ## ImportClaims against the store, and ExportClaims' memory (builds 1,000,000 claims once)
	$(BIN)/python -m benchmarks.bulk

bench-search: venv ## SearchClaims over 1,000,000 claims, against SQLite and Datasette if installed
	$(BIN)/python -m benchmarks.search

bench-watch: venv ## WatchClaims delivery latency (1 and 10 watchers) and writers' cost of 10 (~1 minute)
	$(BIN)/python -m benchmarks.watch

clean: ## remove the virtual environment and tool caches
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
