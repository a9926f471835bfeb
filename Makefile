# dapq-probe — see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := demo

# SIMD: compile for the machine's vector extensions when the CPU has AVX2 and FMA (x86-64-v3), else the
# portable baseline. Detected on the machine that builds.
CPU_FLAGS := $(shell grep -q -w avx2 /proc/cpuinfo 2>/dev/null && grep -q -w fma /proc/cpuinfo 2>/dev/null && echo "-Xswiftc -target-cpu -Xswiftc haswell")
SWIFT_RELEASE := -c release $(CPU_FLAGS)
BIN := .build/release/dapq-probe
THREADS ?= 2

.PHONY: setup build demo test fixtures clean

## Install Debian packages, the model and the essays corpus when missing.
setup:
	@bash scripts/setup.sh

build: setup
	swift build $(SWIFT_RELEASE) --product dapq-probe

## Set up, build, and run the main job on the default model.
demo: build
	$(BIN) info | head -n 4
	$(BIN) generate --chat --prompt "What is the capital of France? Answer in one sentence." --max-tokens 32 --threads $(THREADS)

## The test suite (release build: the real-model tests run the forward pass).
test: setup
	swift build $(SWIFT_RELEASE) --product dapq-probe
	swift test $(SWIFT_RELEASE) -Xswiftc -enable-testing

## Regenerate the llama.cpp parity fixtures (throwaway venv under .cache/).
fixtures: setup
	bash scripts/fixtures.sh

clean:
	rm -rf .build
