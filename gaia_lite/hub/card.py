"""The dataset card of a pushed corpus: the YAML ``push_to_hub`` would write for its configs, then what it
holds, how to use and rebuild it, its evaluation results and the repo's layout."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from ..corpus import Corpus
from ..report import markdown_table
from .layout import DATA_DIR, EMBEDDINGS_PREFIX, INDEXES_DIR, MANIFEST, SPLIT
from .specs import RepoSpec


def dataset_card(corpus: Corpus, spec: RepoSpec, manifest: dict, tables: Sequence[tuple[str, list]]) -> str:
    """The card (README.md) for ``corpus`` pushed to ``spec`` with ``manifest``; ``tables`` are the results
    tables as ``(file name, records)``."""
    lines = [*_summary(corpus, manifest), *_audit(corpus, manifest), *_use_it(spec, manifest),
             *_rebuild_it(corpus, manifest),
             *_evaluation(tables), *_layout(manifest)]
    return f"---\n{_front_matter(corpus, manifest)}\n---\n\n" + "\n".join(lines)


def _front_matter(corpus: Corpus, manifest: dict) -> str:
    """The card's YAML: ``configs`` and ``dataset_info`` as ``push_to_hub`` writes them, so the Hub's viewer and
    ``load_dataset`` read the repo as any other dataset."""
    from datasets import Features
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    data = DatasetCardData(pretty_name=f"{corpus.name} (gaia_lite corpus)", tags=["gaia-lite", "retrieval"],
                           task_categories=["text-retrieval"])
    infos, configs = {}, {}
    for name, c in manifest["configs"].items():
        size = sum(manifest["files"][s]["size"] for s in c["shards"])
        info = DatasetInfo(config_name=name, features=Features.from_dict(c["features"]), splits=SplitDict(),
                           download_size=size, dataset_size=c["num_bytes"])
        info.splits.add(SplitInfo(name=SPLIT, num_bytes=c["num_bytes"], num_examples=c["num_rows"]))
        info.size_in_bytes = size + c["num_bytes"]
        infos[name] = info
        configs[name] = {"data_files": [{"split": SPLIT, "path": f"{c['data_dir']}/{SPLIT}-*"}]}
    DatasetInfosDict(infos).to_dataset_card_data(data)
    MetadataConfigs(configs).to_dataset_card_data(data)
    return data.to_yaml()


def _summary(corpus: Corpus, manifest: dict) -> list[str]:
    meta = corpus.meta
    lines = [
        f"# {corpus.name}",
        "",
        (f"A corpus built and shared with gaia_lite: {len(corpus):,} documents with unique string ids, the "
         f"search indexes built over them, and a manifest (`{MANIFEST}`) with the sha256 of every file, "
         "which `gaia-lite pull` checks before anything is used."),
        "",
        "| | |",
        "|---|---|",
        f"| documents | {len(corpus):,} |",
        f"| columns | {', '.join(f'`{c}`' for c in corpus.dataset.column_names)} |",
        f"| fingerprint | `{meta.fingerprint}` (SHA-256 of id, title and text in row order) |",
        f"| source | `{meta.source}` |",
        f"| built | {meta.created} with gaia_lite {meta.gaia_lite_version} |",
        f"| pushed | {manifest['created']} with gaia_lite {manifest['gaia_lite_version']} |",
        "",
        "## Indexes",
        "",
    ]
    if manifest["artifacts"]:
        lines += ["| folder | kind | parameters |", "|---|---|---|"]
        for name, m in manifest["artifacts"].items():
            lines.append(f"| `{INDEXES_DIR}/{name}` | {_kind_text(m)} | {_params_text(name, m)} |")
    else:
        lines.append("None: only the documents were pushed.")
    return lines


def _audit(corpus: Corpus, manifest: dict) -> list[str]:
    """The pushed audit's main figures (``gaia-lite audit``), where one is pushed."""
    import json

    names = [n for n, m in manifest["artifacts"].items() if m["kind"] == "audit"]
    if not names:
        return []
    s = json.loads((corpus.folder / names[0] / "summary.json").read_text(encoding="utf-8"))
    t = s["text"]
    rows = [("words", f"{t['words']:,}"), ("characters", f"{t['characters']:,}"),
            (f"tokens ({t['tokenizer']})", f"{t['tokens']:,}"), ("empty documents", f"{t['empty']:,}"),
            (f"documents under {t['short_words']} words", f"{t['short']:,}")]
    rows += [(f"distinct {n}-grams (HyperLogLog)", f"{d['estimate']:,.0f} ({d['lower']:,.0f} to {d['upper']:,.0f})")
             for n, d in s["distinct"].items()]
    if s["languages"].get("enabled"):
        rows.append(("languages", ", ".join(f"{x['language'] or 'unknown'} {100 * x['share']:.1f}%"
                                            for x in s["languages"]["top"][:5])))
    if s["personal_data"].get("enabled"):
        rows.append(("personal data (documents)", ", ".join(f"{k} {v['documents']:,}"
                                                            for k, v in s["personal_data"]["types"].items())))
    if s["offensive"].get("enabled"):
        rows.append(("offensive language", f"{s['offensive']['documents']:,} documents "
                                           f"({100 * s['offensive']['rate']:.2f}%, {s['offensive']['model']})"))
    return ["", "## What is in it (`gaia-lite audit`)", "", "| | |", "|---|---|",
            *[f"| {k} | {v} |" for k, v in rows], "",
            f"Tables (most common n-grams, lengths, personal data, languages, metadata) in `{INDEXES_DIR}/{names[0]}/`.",
            ""]


def _use_it(spec: RepoSpec, manifest: dict) -> list[str]:
    dense = any(m["kind"] == "dense" for m in manifest["artifacts"].values())
    lines = [
        "",
        "## Use it",
        "",
        "```bash",
        (f"gaia-lite pull {spec.repo_id}{f' --revision {spec.revision}' if spec.revision else ''}"
         f"    # → indexes/{spec.name}/, verified"),
        f"gaia-lite search {spec} \"your query\"" + (" --retriever hybrid" if dense else ""),
        "```",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f"docs = load_dataset({spec.repo_id!r}, split={SPLIT!r})",
    ]
    for name in manifest["configs"]:
        if name != "default":
            lines.append(f"vectors = load_dataset({spec.repo_id!r}, {name!r}, split={SPLIT!r})  # id, embedding")
    return lines + ["```", ""]


def _rebuild_it(corpus: Corpus, manifest: dict) -> list[str]:
    # The commands name the pusher's corpus folder; the reader has the corpus under its name instead.
    commands = [portable(corpus.meta.command, corpus.meta.source, corpus.name)]
    commands += [portable(m["command"], m["source"], corpus.name) for m in manifest["artifacts"].values()]
    return ["## Rebuild it", "", "```bash", *commands, "```", ""]


def _evaluation(tables: Sequence[tuple[str, list]]) -> list[str]:
    if not tables:
        return []
    lines = ["## Evaluation", ""]
    for file_name, records in tables:
        table = markdown_table([r for r in records if isinstance(r, dict)])
        lines += [f"From `results/{file_name}`:", "", *table.splitlines(), ""]
    return lines


def _layout(manifest: dict) -> list[str]:
    return [
        "## Layout",
        "",
        "```",
        "gaia_lite.json            manifest: name, rows, fingerprint, artifact metadata, sha256 + size of every file",
        f"{DATA_DIR}/                     config `default`: the documents (parquet)",
        *[f"{n}/  config `{n}`: (id, embedding) of `{INDEXES_DIR}/{c['artifact']}`"
          for n, c in manifest["configs"].items() if n != "default"],
        f"{INDEXES_DIR}/<folder>/         index folders as built, each with its own gaia_lite.json",
        "```",
        "",
    ]


def _kind_text(m: dict) -> str:
    if m["kind"] == "sparse":
        return "Lucene BM25 (Anserini)"
    if m["kind"] == "duplicates":
        return "exact and near-duplicate clusters (MinHash LSH)"
    if m["kind"] == "audit":
        return "audit: lengths, n-grams, personal data, languages, offensive language, metadata"
    return f"FAISS {m['params'].get('index_type', 'flat')}, dense"


def _params_text(name: str, m: dict) -> str:
    p = m["params"]
    if m["kind"] == "sparse":
        a = p.get("analyzer", {})
        return (f"fields={p.get('fields')}, language={a.get('language')}, stemmer={a.get('stemmer')}, "
                f"stopwords {'kept' if a.get('keep_stopwords') else 'removed'}")
    if m["kind"] == "duplicates":
        return (f"{p.get('shingle')}-word shingles, {p.get('num_perm')} permutations, Jaccard threshold "
                f"{p.get('threshold')} ({p.get('bands')} bands x {p.get('rows')}); clusters.parquet, one row per "
                "document")
    if m["kind"] == "audit":
        return (f"most common {p.get('ngrams')}-grams (top {p.get('top')}, exact counts), distinct 1- to 5-grams "
                f"(HyperLogLog), tokens of `{p.get('tokenizer')}`; summary.json and Parquet tables")
    e = p.get("encoder", {})
    return (f"model `{e.get('model')}`, {e.get('dim')} dims, {e.get('pooling')} pooling, "
            f"{'normalised' if e.get('normalize') else 'not normalised'}, embeddings in config "
            f"`{EMBEDDINGS_PREFIX}{name.removeprefix('dense-')}`")


def portable(command: str, old: str, new: str) -> str:
    """``command`` with the argument ``old`` (a local corpus folder) replaced by ``new``."""
    if not command:
        return command
    try:
        parts = shlex.split(command)
    except ValueError:
        return command
    return shlex.join(new if part == old else part for part in parts)
