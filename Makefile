# `make test` is the one command that sets everything up and runs every test.
.PHONY: setup test demo bench lint

setup:
	./scripts/setup.sh

test: setup
	cargo test --locked

demo: setup
	cargo run --release --locked -- demo

bench: setup
	cargo bench --locked

lint:
	cargo fmt --check
	cargo clippy --all-targets --locked -- -D warnings
