"""``gaia-lite audit``: what is in a corpus (WIMBD's analyses), stored beside it for the explorer's Overview."""

from __future__ import annotations

import json

from .common import add_command, add_common, add_settings, build_options, configured, to_stderr


def add_parser(sub) -> None:
    """The ``audit`` subcommand's parser."""
    p = add_command(sub, "audit", run)
    p.add_argument("corpus", help="corpus name or folder")
    add_settings(p, "audit")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_settings(p, "build")
    add_common(p)


def run(args) -> int:
    """What is in a corpus: lengths, most common n-grams, distinct n-grams, personal data, languages, offensive
    language and metadata.

    One sharded, resumable pass over the corpus (as WIMBD's stats, topk, unique and its map-reduce analyses).
    N-gram counts are exact; distinct n-grams are HyperLogLog estimates with 95% bounds. The result goes to
    <corpus>/audit/ (summary.json and Parquet tables), which the explorer's Overview shows, `gaia-lite push`
    publishes and `gaia-lite count` reads; the corpus itself is not changed.
    """
    from ..analysis import find_audit
    from ..retriever import open_corpus

    config = configured(args, "audit")
    corpus = open_corpus(args.corpus, root=args.root)
    report = find_audit(corpus, config, progress=args.progress, log=to_stderr, **build_options(args))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        return 0
    for line in summary_lines(report.summary):
        print(line)
    print(f"stored -> {report.folder} (the explorer's Overview shows it; `gaia-lite count {args.corpus} "
          "\"a phrase\"` counts any phrase)")
    return 0


def summary_lines(s: dict) -> list[str]:
    """The audit's summary as a few lines of text."""
    t = s["text"]
    lines = [f"{s['documents']:,} documents of {s['corpus']!r} in {s['seconds']:.1f} s ({s['shards']} shards): "
             f"{t['words']:,} words, {t['characters']:,} characters, {t['tokens']:,} tokens ({t['tokenizer']}); "
             f"{t['empty']:,} empty, {t['short']:,} under {t['short_words']} words"]
    distinct = ", ".join(f"{n}-grams ~{d['estimate']:,.0f}" for n, d in s["distinct"].items())
    lines.append(f"distinct (HyperLogLog, 95% bounds in the summary): {distinct}")
    for n in s["ngrams"]["sizes"]:
        top = s["ngrams"].get("examples", {}).get(str(n))
        if top:
            lines.append(f"most common {n}-grams: " + "; ".join(f"{g['ngram']!r} {g['count']:,}" for g in top[:5]))
    pd = s["personal_data"]
    if pd.get("enabled"):
        lines.append("personal data: " + ", ".join(f"{k} in {v['documents']:,} documents ({v['occurrences']:,})"
                                                   for k, v in pd["types"].items()))
    lang = s["languages"]
    if lang.get("enabled"):
        lines.append(f"languages ({lang['detector']}): " + ", ".join(
            f"{x['language'] or 'unknown'} {100 * x['share']:.1f}%" for x in lang["top"][:8]))
    off = s["offensive"]
    if off.get("enabled"):
        lines.append(f"offensive ({off['model']}, score >= {off['threshold']}): {off['documents']:,} documents "
                     f"({100 * off['rate']:.2f}%)")
    for column, m in (s.get("metadata") or {}).items():
        distinct = f"{m['distinct']:,}" if m.get("distinct") is not None else "more than 1,000"
        top = ", ".join(f"{x['value']} {x['documents']:,}" for x in (m.get("top") or [])[:3])
        lines.append(f"metadata {column!r} ({m['kind']}): {distinct} distinct values" + (f"; {top}" if top else ""))
    if s.get("duplicates") and "near" in s["duplicates"]:
        d = s["duplicates"]
        lines.append(f"duplicates (stored): exact {100 * d['exact']['rate']:.2f}%, near {100 * d['near']['rate']:.2f}%")
    return lines
