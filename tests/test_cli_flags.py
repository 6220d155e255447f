"""The settings flags come from the settings dataclasses of config.py: every field has a flag or says there why
not, each flag sets its field on the commands it applies to (and only there), and a rule about settings is the
configuration's alone, refused the same way from the command line, a config file and Python."""

from __future__ import annotations

import dataclasses
import itertools
import re
import typing
from pathlib import Path

import pytest

from gaia_lite.cli import build_parser, main
from gaia_lite.cli.common import SECTIONS, configured, flag_name, flag_type, retriever_config
from gaia_lite.config import ExperimentConfig, FusionConfig
from gaia_lite.errors import ConfigError

SEARCH = (["search", "c", "q"], ["eval", "f"], ["tune", "f", "--config", "x.yaml"], ["app", "c"])
#: Where each section's flags are offered: {when: command lines}. A field whose ``when`` is None is offered on all
#: of its section's command lines; one with ``when`` set, on those of that ``when`` only.
OFFERED: dict[str, dict[str, tuple[list[str], ...]]] = {
    "retriever": {"search": SEARCH[:2]},  # tune and app take the retriever from the config and the page
    "sparse": {"build": (["index", "sparse", "c"],), "search": SEARCH},
    "dense": {"build": (["index", "dense", "c"],), "search": SEARCH},
    "fusion": {"search": SEARCH},
    "build": {"build": (["index", "sparse", "c"], ["index", "dense", "c"], ["contamination", "c", "b"],
                        ["duplicates", "c"], ["audit", "c"], ["overlap", "c", "d"])},
    "contamination": {"": (["contamination", "c", "b"],)},
    "duplicates": {"": (["duplicates", "c"],)},
    "audit": {"": (["audit", "c"],)},
    "overlap": {"": (["overlap", "c", "d"],)},
}
#: The flags that predate their derivation, with the names scripts and the README use.
EXISTING = {"--retriever", "--fields", "--stemmer", "--keep-stopwords", "--language", "--k1", "--b", "--model",
            "--index-type", "--dtype", "--batch-size", "--query-prefix", "--document-prefix", "--compile", "--hnsw-m",
            "--hnsw-ef-construction", "--ivf-lists", "--pq-m", "--ef-search", "--ivf-probe", "--fusion",
            "--bm25-weight", "--normalization", "--depth", "--rrf-k", "--fill-missing", "--missing", "--alpha",
            "--shard-size", "--workers", "--ray", "--workdir", "--ngram", "--top-documents", "--shingle", "--threshold",
            "--num-perm", "--seed"}
#: The fields that had no flag before the flags were derived.
NEW = {"--bm25-depth", "--dense-depth", "--weight-on-dense", "--pyserini-normalization", "--pooling", "--normalize",
       "--max-length", "--device"}
#: The audit's and the overlap's flags (issue 22); --ngram and --examples are shared with contamination/duplicates.
AUDIT = {"--ngrams", "--top", "--short-words", "--languages", "--offensive", "--personal-data", "--url-column",
         "--date-column", "--columns", "--examples"}
#: A value other than the default for a string field that accepts only some strings.
SAMPLES = {"ngrams": "2,4"}


def _fields():
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            yield pytest.param(section, cls, field, hints[field.name], id=f"{section}.{field.name}")


def _flagged():
    return [p for p in _fields() if not p.values[2].metadata.get("no_flag")]


def _sample(field: dataclasses.Field, hint) -> tuple[list[str], object]:
    """Words that set ``field`` to a value other than its default that its dataclass accepts, and that value."""
    flag, kind, choices = flag_name(field), flag_type(hint), field.metadata.get("choices")
    if kind is bool:
        value = not field.default
        return [flag if value else "--no-" + flag[2:]], value
    if choices is not None:
        value = [c for c in choices if c != field.default][-1]
    else:
        value = SAMPLES.get(field.name) or {int: lambda: (field.default or 1) + 2, float: lambda: 0.25,
                                            str: lambda: "de"}[kind]()
    return [flag, str(value)], value


@pytest.mark.parametrize("section, cls, field, hint", list(_fields()))
def test_every_field_has_a_flag_or_says_why_not(section, cls, field, hint):
    meta = field.metadata
    assert set(meta) >= {"help", "flag", "no_flag", "when"}, f"declare {cls.__name__}.{field.name} with setting()"
    if meta["no_flag"]:
        assert meta["flag"] is None and meta["no_flag"].strip()
        return
    flag_type(hint)  # a type the CLI parses (raises otherwise)
    assert meta["help"].strip() and meta["when"] in (None, "build", "search")
    assert re.fullmatch(r"--[a-z0-9]+(-[a-z0-9]+)*", flag_name(field))


@pytest.mark.parametrize("section, cls, field, hint", _flagged())
def test_each_flag_sets_its_field_where_it_applies_and_is_unknown_elsewhere(section, cls, field, hint):
    words, value = _sample(field, hint)
    for when, command_lines in OFFERED[section].items():
        for argv in command_lines:
            if field.metadata["when"] in (None, when):
                config = configured(build_parser().parse_args([*argv, *words]), section)
                assert config == dataclasses.replace(cls(), **{field.name: value}), argv
            else:
                with pytest.raises(SystemExit) as e:
                    build_parser().parse_args([*argv, *words])
                assert e.value.code == 2, argv


def test_the_flags_keep_their_names_and_every_field_that_lacked_one_has_one_now():
    flags = {flag_name(p.values[2]) for p in _flagged()}
    assert flags == EXISTING | NEW | AUDIT


def test_a_flag_not_given_leaves_the_config_file_s_value_and_a_flag_given_overrides_it(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text("name: h\nretriever:\n  kind: hybrid\n  sparse: {k1: 1.2}\n"
                    "  fusion: {bm25_weight: 0.4, normalization: minmax, fill_missing: true}\n")
    base = ExperimentConfig.from_yaml(path).retriever
    config = retriever_config(build_parser().parse_args(["search", "c", "q", "--depth", "7"]), base)
    assert (config.kind, config.sparse.k1, config.fusion.bm25_weight, config.fusion.normalization) == (
        "hybrid", 1.2, 0.4, "minmax")
    assert config.fusion.fill_missing is True and config.fusion.depth == 7
    args = build_parser().parse_args(["search", "c", "q", "--bm25-weight", "0.3", "--no-fill-missing", "--retriever",
                                      "dense", "--keep-stopwords"])
    config = retriever_config(args, base)
    assert (config.kind, config.fusion.bm25_weight, config.fusion.fill_missing, config.sparse.keep_stopwords) == (
        "dense", 0.3, False, True)
    assert config.fusion.normalization == "minmax"


def test_a_setting_is_checked_once(monkeypatch):
    calls = []
    check = FusionConfig.__post_init__
    monkeypatch.setattr(FusionConfig, "__post_init__", lambda self: (calls.append(self), check(self)))
    args = build_parser().parse_args(["search", "c", "q", "--retriever", "hybrid", "--fusion", "rrf",
                                      "--bm25-weight", "0.3"])
    assert retriever_config(args).fusion.bm25_weight == 0.3
    assert [c.bm25_weight for c in calls if c.bm25_weight != FusionConfig.bm25_weight] == [0.3]


def test_bm25_weight_with_pyserini_fusion_is_refused_alike_from_the_cli_a_config_file_and_python(tmp_path, capsys):
    with pytest.raises(ConfigError) as e:
        FusionConfig(method="pyserini", bm25_weight=0.3)
    message = str(e.value)
    assert "bm25_weight" in message and "pyserini" in message
    both = tmp_path / "both.yaml"
    both.write_text("name: p\nretriever:\n  kind: hybrid\n  fusion: {method: pyserini, bm25_weight: 0.3}\n")
    pyserini = tmp_path / "pyserini.yaml"
    pyserini.write_text("name: p\nretriever:\n  kind: hybrid\n  fusion: {method: pyserini}\n")
    weighted = tmp_path / "weighted.yaml"
    weighted.write_text("name: p\nretriever:\n  kind: hybrid\n  fusion: {bm25_weight: 0.3}\n")
    flags = ["--fusion", "pyserini", "--bm25-weight", "0.3"]
    for argv in (["search", "c", "q", "--retriever", "hybrid", *flags], ["eval", "f", *flags], ["app", "c", *flags],
                 ["search", "c", "q", "--config", str(both)], ["eval", "--config", str(both)],
                 ["tune", "f", "--config", str(both)],
                 ["search", "c", "q", "--config", str(pyserini), "--bm25-weight", "0.3"],
                 ["eval", "f", "--config", str(weighted), "--fusion", "pyserini"]):
        assert main([*argv, "--root", str(tmp_path)]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, (argv, err)
    assert not list(tmp_path.glob("*/"))  # refused before anything was built


def test_choices_come_from_the_registry_when_the_parser_is_built(capsys):
    from gaia_lite.registry import FUSION_METHODS, FusionMethod

    FUSION_METHODS.add(FusionMethod("flag-test", "a method registered at run time", lambda sides, weights: None))
    try:
        args = build_parser().parse_args(["search", "c", "q", "--fusion", "flag-test"])
        assert retriever_config(args).fusion.method == "flag-test"
        with pytest.raises(SystemExit):
            main(["search", "--help"])
        assert "flag-test: a method registered at run time" in " ".join(capsys.readouterr().out.split())
    finally:
        FUSION_METHODS.remove("flag-test")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["search", "c", "q", "--fusion", "flag-test"])


def test_the_readme_settings_table_names_every_retriever_flag():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    after = readme.split("### One set of settings", 1)[1].splitlines()
    header = after.index("| section | fields | CLI flags |")
    table = itertools.takewhile(lambda line: line.startswith("|"), after[header + 2:])
    rows = {line.split("|")[1].strip(): line.split("|")[3] for line in table}
    assert len(rows) == 4, rows
    for param in _flagged():
        name, field = param.values[0], param.values[2]
        if name in ("retriever", "sparse", "dense", "fusion"):
            row = next(cells for title, cells in rows.items() if title.strip("`").startswith(
                "RetrieverConfig" if name == "retriever" else name))
            assert f"`{flag_name(field)}`" in row, (name, flag_name(field))
