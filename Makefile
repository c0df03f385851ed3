# tufkit: `make demo` runs the end-to-end demo on embedded defaults, `make test` runs
# every check CI runs. Both work on a fresh clone: what they need, they install.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all demo test deps fmt lint unit python-env system-deps bench clean

all: test

## The README's first command: a scripted tour of the operator and client flows.
demo:
	$(CARGO) run --quiet -p tufkit-cli --bin tufkit -- demo

## Everything CI checks: formatting, lints, unit, integration and interop tests.
test: deps fmt lint unit

deps: python-env system-deps

python-env:
	./scripts/python-env.sh

system-deps:
	./scripts/system-deps.sh

fmt:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace --no-fail-fast

## Criterion micro-benchmarks of tufkit-core, then the end-to-end comparison with python-tuf
## and tough: generates repositories into target/bench-repos and rewrites
## docs/performance.md (~20 min on 2 cores; BENCH_ARGS=--quick for a smoke run that only prints).
BENCH_ARGS ?=
bench: python-env
	$(CARGO) bench -p tufkit-core
	$(CARGO) build --release -p tufkit-cli -p tufkit-bench --features tufkit-bench/tough
	$${CARGO_TARGET_DIR:-target}/release/tufkit-bench run $(BENCH_ARGS)

clean:
	$(CARGO) clean
