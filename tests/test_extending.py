"""README's "Extending gaia_lite", run as written: a fusion method registered at run time works from the Python
API, the CLI, a YAML config and the explorer, with the scores its formula gives; and the README's vocabulary
tables are the registries' own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gaia_lite import registry
from gaia_lite.cli import main
from gaia_lite.config import ExperimentConfig, FusionConfig, RetrieverConfig
from gaia_lite.errors import ConfigError
from gaia_lite.retriever import open_searcher

README = Path(__file__).resolve().parents[1] / "README.md"
QUERY = "open source search engine library"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.fixture
def borda():
    """The README's example, executed as written; the method is unregistered again afterwards."""
    namespace: dict = {}
    exec(compile(_python_blocks(_section("Extending gaia_lite"))[0], "README.md", "exec"), namespace)
    yield namespace["borda_terms"]
    registry.FUSION_METHODS.remove("borda")
    assert "borda" not in registry.FUSION_METHODS


def _borda_expected(hits, weight: float) -> list[float]:
    """Borda points by hand, from each hit's rank on each side (k deep enough that every side's list is whole)."""
    n = {side: max(getattr(h, f"{side}_rank") or 0 for h in hits) for side in ("bm25", "dense")}
    return [sum(w * (n[side] - rank + 1) / n[side] for side, w, rank in
                (("bm25", weight, h.bm25_rank), ("dense", 1 - weight, h.dense_rank)) if rank is not None)
            for h in hits]


def test_a_registered_fusion_method_works_from_api_cli_yaml_and_app(borda, tiny_corpus, tiny_dense, encoder, tmp_path,
                                                                   capsys):
    config = RetrieverConfig(kind="hybrid", fusion=FusionConfig(method="borda", bm25_weight=0.6))
    hits = open_searcher(tiny_corpus, config).search(QUERY, k=100)
    assert len(hits) > 3 and ("bm25", "dense") in {h.found_by for h in hits}
    assert [h.score for h in hits] == pytest.approx(_borda_expected(hits, 0.6))
    assert all(h.weights == {"bm25": 0.6, "dense": pytest.approx(0.4)} for h in hits)
    api = [(h.doc_id, h.rank, h.score) for h in hits]

    flags = ["--retriever", "hybrid", "--fusion", "borda", "--bm25-weight", "0.6"]
    assert main(["search", str(tiny_corpus.folder), QUERY, "-k", "100", "--json", *flags]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert [(h["doc_id"], h["rank"]) for h in cli] == [(d, r) for d, r, _ in api]
    assert [h["score"] for h in cli] == pytest.approx([s for *_, s in api])

    yaml_file = tmp_path / "borda.yaml"
    yaml_file.write_text("name: borda\nretriever: {kind: hybrid, fusion: {method: borda, bm25_weight: 0.6}}\n")
    assert ExperimentConfig.from_yaml(yaml_file).retriever == config
    assert main(["search", str(tiny_corpus.folder), QUERY, "-k", "100", "--json", "--config", str(yaml_file)]) == 0
    from_yaml = json.loads(capsys.readouterr().out)
    assert [(h["doc_id"], h["rank"], h["score"]) for h in from_yaml] == [
        (h["doc_id"], h["rank"], h["score"]) for h in cli]

    from gaia_lite.app import Explorer, View, build_demo

    explorer = Explorer(tiny_corpus, encoder=encoder)
    page = explorer.search(QUERY, View(k=100), kind="hybrid", method="borda", bm25_weight=0.6)
    assert page.to_dict()["fusion_config"]["method"] == "borda"
    assert [(r.hit.doc_id, r.hit.rank) for r in page.rows] == [(d, r) for d, r, _ in api]
    assert [r.hit.score for r in page.rows] == pytest.approx([s for *_, s in api])
    methods = [b for b in build_demo(explorer).blocks.values() if getattr(b, "elem_id", None) == "gl-method"]
    assert "borda" in [value for _, value in methods[0].choices]


def test_a_registered_fusion_method_is_tuned_on_its_grid(borda):
    from gaia_lite.experiments import default_grid

    assert default_grid("borda") == [{"bm25_weight": w / 10} for w in range(11)]


def test_an_unregistered_method_is_refused_everywhere(tiny_corpus, capsys):
    with pytest.raises(ConfigError, match="unknown fusion method 'borda'; valid: rrf, weighted, pyserini"):
        FusionConfig(method="borda")
    with pytest.raises(SystemExit) as usage_error:  # argparse's choices, read from the registry
        main(["search", str(tiny_corpus.folder), QUERY, "--retriever", "hybrid", "--fusion", "borda"])
    assert usage_error.value.code == 2 and "'borda'" in capsys.readouterr().err


def test_readme_tables_are_the_registries():
    text = README.read_text(encoding="utf-8")
    for vocabulary in (registry.RETRIEVERS, registry.FUSION_METHODS, registry.NORMALIZATIONS, registry.MISSING_RULES,
                       registry.INDEX_TYPES):
        assert vocabulary.table() in text, f"README's table of {vocabulary.what}s is not registry.{vocabulary.what}'s"
