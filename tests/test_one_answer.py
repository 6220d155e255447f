"""One answer, whatever the path: the same settings give the same ids, scores and ranks from the CLI
(``search --json``, flags or ``--config``), the Python API (``open_searcher``) and the app's ``/search``
endpoint; and ``eval --dump-config`` writes a config that reproduces its run's figures."""

from __future__ import annotations

import json
import os
import socket

from pathlib import Path

import pytest

from gaia_lite.cli import main
from gaia_lite.config import ExperimentConfig, FusionConfig, RetrieverConfig, to_dict
from gaia_lite.retriever import open_searcher

from .test_app import explorer, hostile_corpus  # noqa: F401 - shared fixtures
from .test_experiments import _beir_folder

QUERY = "open source search engine library"

# (retriever, fusion method, BM25 weight, normalization): RRF at 0.3 is where the CLI and the app used to
# disagree (weights w/1-w against 2w/2(1-w)).
CASES = [("bm25", None, None, None), ("dense", None, None, None), ("hybrid", "rrf", 0.5, "minmax"),
         ("hybrid", "rrf", 0.3, "minmax"), ("hybrid", "weighted", 0.4, "zscore")]


def _config(retriever, fusion, weight, normalization) -> RetrieverConfig:
    if retriever != "hybrid":
        return RetrieverConfig(kind=retriever)
    return RetrieverConfig(kind=retriever, fusion=FusionConfig(method=fusion, bm25_weight=weight,
                                                               normalization=normalization))


def _flags(retriever, fusion, weight, normalization) -> list[str]:
    flags = ["--retriever", retriever]
    if retriever == "hybrid":
        flags += ["--fusion", fusion, "--bm25-weight", str(weight), "--normalization", normalization]
    return flags


def _triples(hits) -> list[tuple]:
    return [(h["doc_id"], h["rank"], h["score"]) for h in hits]


def _same(a: list[tuple], b: list[tuple], retriever: str) -> None:
    assert [(d, r) for d, r, _ in a] == [(d, r) for d, r, _ in b]
    if retriever == "bm25":
        assert [s for *_, s in a] == [s for *_, s in b]  # Lucene's scores, exactly
    else:
        # Query vectors come from float32 sums that torch may split over other thread counts in another
        # thread or process, which moves scores by ~1e-7.
        assert [s for *_, s in a] == pytest.approx([s for *_, s in b], rel=1e-5, abs=1e-6)


@pytest.fixture(scope="module")
def client(explorer):  # noqa: F811
    from gradio_client import Client

    from gaia_lite.app import launch

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = launch(explorer, host="127.0.0.1", port=port, block=False, quiet=True)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    demo.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(x) for x in c if x is not None))
def test_cli_python_api_config_file_and_app_give_one_answer(case, hostile_corpus, encoder, client, capsys,  # noqa: F811
                                                            tmp_path):
    retriever, fusion, weight, normalization = case
    config = _config(*case)
    api = [(h.doc_id, h.rank, h.score) for h in open_searcher(hostile_corpus, config, encoder=encoder).search(QUERY, 5)]

    assert main(["search", str(hostile_corpus.folder), QUERY, "-k", "5", "--json", *_flags(*case)]) == 0
    cli = _triples(json.loads(capsys.readouterr().out))

    yaml_file = tmp_path / "retriever.yaml"
    yaml_file.write_text(ExperimentConfig(name="x", retriever=config).to_yaml())
    assert main(["search", str(hostile_corpus.folder), QUERY, "-k", "5", "--json", "--config", str(yaml_file)]) == 0
    from_file = _triples(json.loads(capsys.readouterr().out))

    answer = client.predict(QUERY, retriever, fusion or "rrf", 0.5 if weight is None else weight, 5, 1, True, None,
                            normalization or "minmax", api_name="/search")
    app = _triples(answer["hits"])

    assert len(api) == 5
    for other in (cli, from_file, app):
        _same(other, api, retriever)
    if retriever == "hybrid":
        assert answer["fusion_config"]["weights"] == pytest.approx(config.fusion.side_weights())


def test_defaults_are_the_same_everywhere(explorer):  # noqa: F811
    """The app's initial settings, the CLI's and the config's defaults come from one place."""
    from gaia_lite.cli import build_parser, retriever_config

    defaults = RetrieverConfig()
    assert retriever_config(build_parser().parse_args(["search", "c", "q"])) == defaults
    assert retriever_config(build_parser().parse_args(["eval", "f"])) == defaults
    s = explorer.retriever_config().fusion
    assert (s.method, s.bm25_weight, s.normalization) == (
        defaults.fusion.method, defaults.fusion.bm25_weight, defaults.fusion.normalization)
    assert s == defaults.fusion  # page 1 at the default k needs no deeper search
    # The default-fusion study's choice (README, "Default fusion"), and the experiment config that reports it on
    # SciFact test leaves the fusion to the defaults.
    f = defaults.fusion
    assert (f.method, f.normalization, f.bm25_weight, f.depth, f.fills, f.missing) == (
        "weighted", "zscore", 0.5, 1000, False, "zero")
    from gaia_lite.config import ExperimentConfig

    config = ExperimentConfig.from_yaml(Path(__file__).resolve().parents[1] / "configs" / "scifact-hybrid-default.yaml")
    assert config.retriever.fusion == f
    import yaml

    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "scifact-hybrid-default.yaml").read_text())
    assert "fusion" not in raw["retriever"]  # nothing chosen: the defaults, whatever they are


def test_the_app_takes_its_settings_from_the_retriever_config(hostile_corpus, encoder):  # noqa: F811
    from gaia_lite.app import Explorer

    config = RetrieverConfig(fusion=FusionConfig(method="weighted", bm25_weight=0.3, normalization="zscore"))
    e = Explorer(hostile_corpus, config, encoder=encoder)
    s = e.retriever_config()
    assert (s.kind, s.fusion.method, s.fusion.bm25_weight, s.fusion.normalization) == ("hybrid", "weighted", 0.3,
                                                                                        "zscore")
    expected = open_searcher(hostile_corpus, config, kind="hybrid", encoder=encoder).search(QUERY, 5)
    assert [(r.hit.doc_id, r.hit.score) for r in e.search(QUERY).rows[:5]] == \
        [(h.doc_id, h.score) for h in expected]


@pytest.mark.parametrize("flags", [
    ["--retriever", "bm25", "--fields", "multifield", "--k1", "1.2", "--b", "0.75"],
    ["--retriever", "hybrid", "--fusion", "weighted", "--bm25-weight", "0.3", "--normalization", "zscore",
     "--depth", "6", "--dtype", "float32"],
])
def test_eval_dump_config_reproduces_the_run(tmp_path, flags, capsys):
    folder = _beir_folder(tmp_path)
    common = ["--root", str(tmp_path / "idx"), "--runs-dir", str(tmp_path / "runs"), "--no-progress", "-k", "10",
              "--json"]
    dumped = tmp_path / "run.yaml"
    assert main(["eval", str(folder), *flags, *common, "--dump-config", str(dumped)]) == 0
    first = json.loads(capsys.readouterr().out)
    config = ExperimentConfig.from_yaml(dumped)
    assert config.expected == {m: round(v, 4) for m, v in first["metrics"].items()}
    assert main(["eval", str(folder), "--config", str(dumped), *common]) == 0  # 0: every expected score met
    second = json.loads(capsys.readouterr().out)
    assert second["metrics"] == first["metrics"] and second["ok"] and set(second["checks"]) == set(first["metrics"])
    # The dumped retriever is the resolved one: reading it back and dumping again changes nothing.
    assert to_dict(ExperimentConfig.from_yaml(dumped)) == to_dict(config)
    assert config.retriever.kind == flags[1]
    if config.retriever.kind == "hybrid":
        assert config.retriever.dense.model == "sentence-transformers/all-MiniLM-L6-v2"
        assert config.retriever.fusion.bm25_weight == 0.3 and config.retriever.fusion.depth == 6
    else:
        assert (config.retriever.sparse.fields, config.retriever.sparse.k1) == ("multifield", 1.2)
