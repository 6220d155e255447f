"""Auditing a corpus: the audit's throughput against a plain peer, its memory per part, and phrase counts.

Run by ``make bench-audit``. Prints a table, writes ``benchmarks/out/audit.json`` (figures + machine facts) and
``benchmarks/out/audit_section.md`` (a section for BENCHMARKS.md).

Corpora: the default corpus (``builtin:docstrings``) and a corpus of at least ``--million`` documents made from
it (``_corpora.million_corpus``: copy 0 as is, then copies whose words are shuffled across documents), both
reused from ``--root`` where ``make bench-scale`` or ``make bench-analysis`` left them; and the first 100,000
documents of the million (``build_corpus(..., limit=100_000)``) for the memory at two sizes.

1. Throughput. ``find_audit`` in one process (the in-process executor, the automatic shard plan) against the peer
   of ``_audit_peer.py`` (Counters, sets, the same regular expressions and models; its docstring says exactly how
   it counts). Two comparisons: the **core** audit (``--no-languages --no-offensive``: n-grams, distinct n-grams,
   personal data, lengths in characters, words and tokens) against the peer's documents pass and n-gram passes,
   and the **full** audit against those plus the peer's languages and offensive pass (its seconds added).
   Agreement: the top n-grams (n-gram, count, documents; identical up to the order of ties), personal data by
   type, words, characters, tokens, empty and short documents and length quantiles identical; the distinct
   n-grams and the n-grams seen once, counted exactly by the peer, within the audit's stated 95% bounds; for the
   full audit, documents per language and offensive documents identical.
2. Memory per part: the audit's parts, the full audit's settings, each in a fresh child process, one after the
   other over one work folder: ``AuditJob.make_part`` over every shard of the automatic plan (models loaded
   first, as a worker's setup), then ``profile.combine_profiles``, then ``words.combine_words`` with the exact
   recount (the corpus's ids given, as the driver gives them). Each child opens the corpus, resets its peak
   resident memory (VmHWM, by writing 5 to ``/proc/self/clear_refs``) and reads it after the part: the part's
   peak on top of the interpreter, gaia_lite and the open corpus ("start"). At 100,000 documents and at the
   million, both in the audit's automatic shards (at most ``AuditJob.max_auto_shard`` documents, so a shard's
   memory does not grow with the corpus). The ratio of the peaks per part against the target of 1.5x (the
   recount's memory is stated, not held to it).
3. ``gaia-lite count``: ``count_phrase`` over the audit's word index of the default corpus, cold (the first call
   in a process) and warm (median of 5), against a brute-force scan (every document's words, ``words``, windows
   compared) and against Lucene phrase queries over the corpus's BM25 index (documents only; Lucene's analyzer
   stems and drops stop words, so its counts differ by design).

Each measurement runs in a fresh child process; "others" is the CPU that other processes used meanwhile (see
``_common.OtherLoad``), "own" the cores the measured code itself used (the tokenizer's Rust threads can take a
second core).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from time import perf_counter as perf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules, also when imported as a module (tests)
from _audit_peer import compare_ngrams, peer_core, peer_models, read_json, top_of, within  # noqa: E402
from _common import OtherLoad, child_reply, cpu_model, log, machine_basics, markdown_table, proc_mib  # noqa: E402
from _common import run_child as run_script  # noqa: E402
from _common import utc_now, write_json  # noqa: E402
from _corpora import docstrings_corpus, million_corpus  # noqa: E402

CHILD_MARK = "BENCH_AUDIT_CHILD "
SMALL = 100_000
#: Phrases counted on the default corpus: common, rarer, with stop words, one word.
PHRASES = ("return the", "the number of", "if none", "default is none", "see also", "raises valueerror if",
           "numpy")
#: The peer counts n-grams as Counters of tuples up to this many documents, else by hashes (see _audit_peer).
COUNTER_UP_TO = 200_000
TARGET_SPEED, TARGET_MEMORY = 3.0, 1.5
PHASES = ("shards", "combine_profiles", "combine_words")


# ----------------------------------------------------------------------------------------------- children


def child_audit(corpus_folder: str, mode: str, ngrams_out: str) -> dict:
    """``find_audit`` in this process; its summary's figures, and its top n-grams written to ``ngrams_out``."""
    from gaia_lite.analysis import find_audit, load_audit
    from gaia_lite.corpus import Corpus

    import shutil

    corpus = Corpus.load(corpus_folder, verify=False)
    full = mode == "full"
    # A workdir left by an interrupted run would be resumed, and its shards not measured.
    shutil.rmtree(corpus.folder / ".audit.work", ignore_errors=True)
    said: list[str] = []
    with OtherLoad() as load:
        t = perf()
        report = find_audit(corpus, languages=full, offensive=full, progress=False, log=said.append)
        seconds = perf() - t
    if any("reused" in line for line in said):
        raise RuntimeError(f"the audit reused shards of an earlier run, so it was not measured: {said}")
    stored = load_audit(corpus)
    Path(ngrams_out).write_text(json.dumps(top_of(stored.table("ngrams").select(
        ["n", "rank", "ngram", "count", "documents"]).to_pylist())))
    s = report.summary
    languages = {r["language"]: r["documents"] for r in stored.table("languages").to_pylist()}
    return {"seconds": seconds, "docs": len(corpus), "peak_rss_mib": proc_mib("VmHWM"),
            "others": round(load.cores, 2), "own_cores": round(load.own_cores, 2), "shards": s["shards"],
            "text": s["text"], "lengths": s["lengths"], "distinct": s["distinct"], "singletons": s["singletons"],
            "complete": s["ngrams"].get("complete"), "personal_data": s["personal_data"]["types"],
            "languages": languages, "offensive": s["offensive"]["documents"]}


def child_peer(corpus_folder: str, what: str, counting: str, ngrams_in: str) -> dict:
    """The peer: ``core`` (documents pass and n-gram passes) or ``models`` (languages and offensive pass)."""
    from gaia_lite.analysis.audit import tokenizer_of
    from gaia_lite.analysis.words import DISTINCT_SIZES
    from gaia_lite.config import AuditConfig
    from gaia_lite.corpus import Corpus

    corpus = Corpus.load(corpus_folder, verify=False)
    with OtherLoad() as load:
        t = perf()
        if what == "core":
            sizes = tuple(sorted(set(AuditConfig().ngram_sizes) | set(DISTINCT_SIZES)))
            result = peer_core(corpus, tokenizer_of(corpus), sizes, read_json(ngrams_in), counting)
        else:
            result = peer_models(corpus)
        seconds = perf() - t
    return result | {"seconds": seconds, "docs": len(corpus), "peak_rss_mib": proc_mib("VmHWM"),
                     "others": round(load.cores, 2), "own_cores": round(load.own_cores, 2)}


def reset_peak() -> float:
    """Hand freed memory back to the system, reset this process's VmHWM to its current RSS; that RSS, MiB."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    Path("/proc/self/clear_refs").write_text("5")
    return proc_mib("VmRSS")


def child_phase(corpus_folder: str, workdir: str, name: str, shard_size: str = "") -> dict:
    """One part of the audit (the full audit's settings) in this fresh process, its seconds and peak memory (reset
    once the corpus is open, so the peak is the part's, on top of the interpreter, gaia_lite and the corpus):
    ``shards`` makes every shard's part into ``workdir`` (shards of the automatic plan, or of ``shard_size``
    documents), ``combine_profiles`` and ``combine_words`` merge the parts found there."""
    from gaia_lite.analysis.audit import WORDS_DIR, AuditJob, tokenizer_of
    from gaia_lite.analysis.profile import combine_profiles, metadata_columns
    from gaia_lite.analysis.words import combine_words
    from gaia_lite.config import AuditConfig
    from gaia_lite.corpus import Corpus
    from gaia_lite.shards import auto_shard_size, plan_shards

    corpus = Corpus.load(corpus_folder, verify=False)
    config = AuditConfig()
    from gaia_lite.analysis.audit import AuditJob

    size = int(shard_size) if shard_size else auto_shard_size(len(corpus), largest=AuditJob.max_auto_shard)
    shards = plan_shards(len(corpus), size)
    work = Path(workdir)
    parts = [work / f"part-{s.index:05d}" for s in shards]
    final = work / "audit"
    final.mkdir(exist_ok=True)
    out: dict = {"docs": len(corpus), "shard_size": size, "automatic": not shard_size, "shards": len(shards)}
    ids = corpus.ids if name == "combine_words" else None  # the driver holds them (the examples' ids)
    start = reset_peak()
    with OtherLoad() as load:
        t = perf()
        if name == "shards":
            job = AuditJob(str(corpus.folder), config, metadata_columns(corpus, config), tokenizer_of(corpus))
            job.setup()
            out["per_shard"] = []
            for shard, folder in zip(shards, parts):
                s = perf()
                job.make_part(shard, folder)
                out["per_shard"].append({"docs": len(shard), "seconds": round(perf() - s, 2),
                                         "peak_rss_mib_so_far": proc_mib("VmHWM")})
        elif name == "combine_profiles":
            combine_profiles(parts, final, config)
        else:
            combine_words([p / WORDS_DIR for p in parts], final, config, ids)
        seconds = perf() - t
    return out | {"seconds": seconds, "start_rss_mib": start, "peak_rss_mib": proc_mib("VmHWM"),
                  "others": round(load.cores, 2), "own_cores": round(load.own_cores, 2)}


def child_count(corpus_folder: str, phrases_json: str) -> dict:
    """``count_phrase`` cold and warm, a brute-force scan and Lucene phrase queries, per phrase."""
    from gaia_lite.analysis.text import words
    from gaia_lite.analysis.audit import count_phrase
    from gaia_lite.corpus import Corpus

    from _audit_peer import doc_words

    corpus = Corpus.load(corpus_folder, verify=False)
    phrases = json.loads(phrases_json)
    out = {}
    for phrase in phrases:
        t = perf()
        first = count_phrase(corpus, phrase, limit=100)
        cold = perf() - t
        warm = []
        for _ in range(5):
            t = perf()
            count_phrase(corpus, phrase, limit=100)
            warm.append(perf() - t)
        out[phrase] = {"occurrences": first.occurrences, "documents": first.documents, "cold_s": cold,
                       "warm_s": statistics.median(warm), "ids": first.ids[:20]}
    for phrase in phrases:
        target = words(phrase)
        m = len(target)
        t = perf()
        occurrences = documents = 0
        ids = []
        for row, w in enumerate(doc_words(corpus)):
            k = sum(1 for i in range(len(w) - m + 1) if w[i] == target[0] and w[i:i + m] == target)
            occurrences += k
            if k:
                documents += 1
                if len(ids) < 20:
                    ids.append(row)
        brute = perf() - t
        found = out[phrase]
        rows = corpus.dataset.select_columns(["id"])[ids]["id"] if ids else []
        found.update({"brute_s": brute, "brute_occurrences": occurrences, "brute_documents": documents,
                      "same": (occurrences, documents, list(rows)) == (found["occurrences"], found["documents"],
                                                                       found.pop("ids"))})
    index = corpus.folder / "sparse-flat"
    if index.is_dir():
        from gaia_lite.errors import InputError
        from gaia_lite.sparse import BM25Searcher

        searcher = BM25Searcher(index, corpus)
        try:
            for phrase in phrases:
                try:
                    t = perf()
                    n = searcher.count(phrases=[phrase])
                    cold = perf() - t
                    warm = []
                    for _ in range(5):
                        t = perf()
                        searcher.count(phrases=[phrase])
                        warm.append(perf() - t)
                    out[phrase].update({"lucene_documents": n, "lucene_cold_s": cold,
                                        "lucene_warm_s": statistics.median(warm)})
                except InputError as e:  # only stop words
                    out[phrase]["lucene_error"] = str(e).split(":")[0]
        finally:
            searcher.close()
    return {"phrases": out, "docs": len(corpus), "lucene_index": index.is_dir()}


def child_split(corpus_folder: str) -> dict:
    """The full ``find_audit`` with a stopwatch on each of its steps: the steps' public functions and classes are
    wrapped in this process (the calls are per batch or per field, so the stopwatch costs little)."""
    from collections import Counter

    import profanity_check

    from gaia_lite.analysis import audit, find_audit, languages, profile, words
    from gaia_lite.corpus import Corpus

    spent: Counter = Counter()

    def timed_fn(name, fn):
        def wrapper(*args, **kwargs):
            t = perf()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += perf() - t
        return wrapper

    class Writer(words.WordsPartWriter):
        add = timed_fn("words side: index (add)", words.WordsPartWriter.add)
        finish = timed_fn("words side: shard's index and n-gram statistics (finish)", words.WordsPartWriter.finish)

    class Profiler(profile.Profiler):
        add = timed_fn("documents side (add)", profile.Profiler.add)
        finish = timed_fn("documents side: shard's tables (finish)", profile.Profiler.finish)

    words.WordsPartWriter, profile.Profiler = Writer, Profiler
    audit.AuditJob.setup = timed_fn("setup: loading the models", audit.AuditJob.setup)
    audit.words = timed_fn("words (text.words)", audit.words)
    profile.count_tokens = timed_fn("  of which tokens", profile.count_tokens)
    profile.find_pii = timed_fn("  of which personal data", profile.find_pii)
    languages.LanguageDetector.detect_batch = timed_fn("  of which languages", languages.LanguageDetector.detect_batch)
    profanity_check.predict_prob = timed_fn("  of which offensive", profanity_check.predict_prob)
    profile.combine_profiles = timed_fn("merge: combine_profiles", profile.combine_profiles)
    words.combine_words = timed_fn("merge: combine_words (exact recount)", words.combine_words)
    corpus = Corpus.load(corpus_folder, verify=False)
    with OtherLoad() as load:
        t = perf()
        find_audit(corpus, progress=False, log=None)
        seconds = perf() - t
    order = ["setup: loading the models", "words (text.words)", "words side: index (add)",
             "words side: shard's index and n-gram statistics (finish)", "documents side (add)",
             "  of which tokens", "  of which personal data", "  of which languages", "  of which offensive",
             "documents side: shard's tables (finish)", "merge: combine_words (exact recount)",
             "merge: combine_profiles"]
    steps = {k: round(spent[k], 4) for k in order if k in spent}  # 2 decimals made a small corpus's steps 0.0
    steps["the rest (reading the shards' batches, the driver)"] = round(
        seconds - sum(v for k, v in spent.items() if not k.startswith(" ")), 4)
    return {"seconds": seconds, "docs": len(corpus), "steps": steps,
            "others": round(load.cores, 2), "own_cores": round(load.own_cores, 2)}


CHILDREN = {"audit": child_audit, "peer": child_peer, "phase": child_phase, "count": child_count,
            "split": child_split}


def run_child(what: str, *args) -> dict:
    """Run this script as ``--child what args...`` in a fresh process; its JSON, with the process's wall time."""
    result, wall, others = run_script(Path(__file__).resolve(), CHILD_MARK, "--child", what, *args)
    return result | {"process_wall_s": wall, "process_others": others}


# ----------------------------------------------------------------------------------------------- the parts


def agreement(audit: dict, peer: dict, audit_top: dict) -> dict:
    """How the audit's figures compare with the peer's exact ones (see the module docstring)."""
    d = peer["documents_pass"]
    text = audit["text"]
    same_text = {"words": text["words"] == d["words"], "characters": text["characters"] == d["characters"],
                 "tokens": text["tokens"] == d["tokens"], "empty": text["empty"] == d["empty"],
                 "short": text["short"] == d["short_below_50"] if text.get("short_words") == 50 else None}
    lengths = {m: all(audit["lengths"][m][k] == v for k, v in d["lengths"][m].items()) for m in d["lengths"]}
    pii = {k: audit["personal_data"][k] == v for k, v in d["personal_data"].items()}
    estimates = {}
    for kind in ("distinct", "singletons"):
        for n, e in audit[kind].items():
            exact = peer["ngrams"][n][kind]
            estimates.setdefault(kind, {})[n] = {"estimate": e["estimate"], "lower": e["lower"], "upper": e["upper"],
                                                 "exact": exact, "within": within(e, exact),
                                                 "error": (e["estimate"] - exact) / exact if exact else 0.0}
    ngrams = compare_ngrams(audit_top, peer)
    return {"text": same_text, "lengths": lengths, "personal_data": pii, "ngrams": ngrams, **estimates,
            "all_exact_identical": (all(v is not False for v in same_text.values()) and all(lengths.values())
                                    and all(pii.values()) and all(v["identical"] for v in ngrams.values())),
            "all_estimates_within": all(v["within"] for k in ("distinct", "singletons")
                                        for v in estimates[k].values())}


def measure(corpus, root: Path, counting: str | None = None) -> dict:
    """Core and full audits against the peer on ``corpus``."""
    folder = str(corpus.folder)
    counting = counting or ("counter" if len(corpus) <= COUNTER_UP_TO else "hashed")
    top_file = root / f"audit-top-{corpus.name}.json"
    log(f"[{corpus.name}] audit, core (--no-languages --no-offensive)")
    core = run_child("audit", folder, "core", top_file)
    audit_top = read_json(top_file)
    log(f"[{corpus.name}] peer, core ({counting})")
    peer = run_child("peer", folder, "core", counting, top_file)
    log(f"[{corpus.name}] audit, full")
    full = run_child("audit", folder, "full", top_file)
    log(f"[{corpus.name}] peer, languages and offensive")
    models = run_child("peer", folder, "models", counting, top_file)
    agree = agreement(core, peer, audit_top)
    agree_full = agreement(full, peer, read_json(top_file))
    agree_full["languages"] = full["languages"] == models["languages"]
    agree_full["offensive"] = full["offensive"] == models["offensive"]
    return {"docs": len(corpus), "counting": counting, "audit_core": core, "audit_full": full, "peer_core": peer,
            "peer_models": models, "agreement_core": agree, "agreement_full": agree_full}


def small_corpus(big, root: Path, docs: int):
    """The first ``docs`` documents of ``big`` as a corpus of their own, built or reused under ``root``."""
    import contextlib

    from gaia_lite.corpus import Corpus, build_corpus
    from gaia_lite.errors import MissingArtifactError

    name = f"{big.name}-{docs // 1000}k"
    with contextlib.suppress(MissingArtifactError):
        corpus = Corpus.load(root / name, verify=False)
        if len(corpus) == min(docs, len(big)) and corpus.meta.params.get("limit") == docs:
            return corpus
    log(f"[memory] building {name}: the first {docs:,} documents of {big.name}")
    return build_corpus(str(big.folder / "dataset"), name, root=root, limit=docs, progress=False)[0]


def memory(corpus, root: Path, shard_size: int | None = None) -> dict:
    """The audit's parts, each in a fresh child process, with its peak memory (see the module docstring); shards
    of the automatic plan, or of ``shard_size`` documents."""
    import shutil

    work = Path(tempfile.mkdtemp(prefix=f"audit-phases-{corpus.name}-", dir=root))
    out: dict = {"phases": {}}
    try:
        log(f"[{corpus.name}] memory per part ({len(corpus):,} documents, shards of "
            f"{shard_size or 'the automatic plan'})")
        for name in PHASES:
            result = run_child("phase", corpus.folder, work, name, shard_size or "")
            for key in ("docs", "shard_size", "automatic", "shards"):
                out[key] = result.pop(key)
            out["phases"][name] = result
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def split(corpus) -> dict:
    log(f"[{corpus.name}] the full audit's time by step")
    return run_child("split", corpus.folder)


def counts(corpus, phrases) -> dict:
    log(f"[{corpus.name}] count_phrase, brute force and Lucene")
    return run_child("count", corpus.folder, json.dumps(list(phrases)))


# ----------------------------------------------------------------------------------------------- report


def yes(value) -> str:
    return "yes" if value else "NO"


def throughput_rows(out: dict) -> list[list]:
    rows = []
    for name, r in out["corpora"].items():
        n = r["docs"]
        for mode in ("core", "full"):
            ours = r[f"audit_{mode}"]
            peer_s = r["peer_core"]["seconds"] + (r["peer_models"]["seconds"] if mode == "full" else 0)
            peak = max(r["peer_core"]["peak_rss_mib"], r["peer_models"]["peak_rss_mib"] if mode == "full" else 0)
            a = r[f"agreement_{mode}"]
            words = ", ".join(f"n={k} {'yes' if v['identical'] else 'NO'}" for k, v in a["ngrams"].items())
            text = (f"top n-grams identical: {words}; personal data, words, characters, tokens, lengths identical: "
                    f"{yes(all(a['personal_data'].values()) and all(a['lengths'].values()) and all(v is not False for v in a['text'].values()))}; "
                    f"distinct and seen-once within the 95% bounds: {yes(a['all_estimates_within'])}")
            if mode == "full":
                text += f"; languages: {yes(a['languages'])}; offensive documents: {yes(a['offensive'])}"
            ratio = peer_s / ours["seconds"]
            rows.append([f"{name} ({n:,} docs)", mode, f"{n / ours['seconds']:,.0f}", f"{n / peer_s:,.0f}",
                         f"{ratio:.2f}x {'(target met)' if ratio >= TARGET_SPEED else '(below 3x)'}",
                         f"{ours['peak_rss_mib']:,.0f}", f"{peak:,.0f}", f"{ours['others']:.2f} / {ours['own_cores']:.2f}",
                         text])
    return rows


def throughput_table(out: dict) -> str:
    return markdown_table(["corpus", "audit", "gaia_lite docs/s", "peer docs/s", "ratio", "gaia_lite peak MiB",
                           "peer peak MiB", "others / own cores", "agreement"], throughput_rows(out),
                          "llrrrrrrl")


def memory_table(out: dict) -> str:
    m = out.get("memory")
    if not m:
        return ""
    small = m["small"]
    bigs = [b for b in (m.get("big"), m.get("big_small_shards")) if b]
    rows = []
    for p in PHASES:
        a = small["phases"][p]
        row = [p, f"{a['start_rss_mib']:,.0f} → {a['peak_rss_mib']:,.0f} ({a['seconds']:,.1f} s)"]
        for b in bigs:
            b = b["phases"][p]
            ratio = b["peak_rss_mib"] / a["peak_rss_mib"]
            verdict = "stated" if p == "combine_words" else ("met" if ratio <= TARGET_MEMORY else "NOT met")
            row += [f"{b['start_rss_mib']:,.0f} → {b['peak_rss_mib']:,.0f} ({b['seconds']:,.1f} s)",
                    f"{ratio:.2f}x, {verdict}"]
        rows.append(row)
    head = ["part", f"{small['docs']:,} docs, {small['shards']} shards of {small['shard_size']:,}: RSS start → peak MiB"]
    for b in bigs:
        head += [f"{b['docs']:,} docs, {b['shards']} shards of {b['shard_size']:,}"
                 f"{' (automatic plan)' if b.get('automatic', True) else ''}", f"ratio of peaks (target {TARGET_MEMORY}x)"]
    return markdown_table(head, rows, "l" + "r" * (len(head) - 1))


def count_table(out: dict) -> str:
    c = out.get("count")
    if not c:
        return ""
    rows = []
    for phrase, r in c["phrases"].items():
        lucene = (f"{r['lucene_documents']:,} docs, {1000 * r['lucene_warm_s']:.1f} ms (cold "
                  f"{1000 * r['lucene_cold_s']:.0f})" if "lucene_documents" in r else r.get("lucene_error", "-"))
        rows.append([f"`{phrase}`", f"{r['occurrences']:,}", f"{r['documents']:,}",
                     f"{1000 * r['warm_s']:.1f} (cold {1000 * r['cold_s']:.0f})", f"{r['brute_s']:.1f}",
                     yes(r["same"]), lucene])
    return markdown_table(["phrase", "occurrences", "documents", "count_phrase ms, warm median of 5", "brute force s",
                           "same as brute force", "Lucene phrase query (BM25 index)"], rows, "lrrrrll")


def section(out: dict) -> str:
    m = out["machine"]
    lines = [f"# Auditing a corpus (`make bench-audit`, {out['measured']})", "",
             f"Measured on {m.get('cpu', '?')} ({m.get('cores')} cores shared with other sessions, "
             f"{m.get('memory_gib')} GiB), commit {m.get('git_commit')}{' (dirty)' if m.get('git_dirty') else ''}, "
             "by `benchmarks/bench_audit.py` (method in its docstring, the peer's in `_audit_peer.py`). Each run in "
             "a fresh process, one at a time; docs/s = corpus documents / wall seconds; ratio = peer seconds / "
             "gaia_lite seconds (target: at least 3x). \"others\": CPU cores other processes used during the "
             "audit; \"own\": the audit's own.", "", "## Throughput against a plain peer", "",
             throughput_table(out), ""]
    for name, r in out["corpora"].items():
        p = r["peer_core"]
        passes = ", ".join(f"n={n} {v['seconds']:.0f} s" for n, v in p["ngrams"].items())
        lines.append(f"- {name}: the peer counted n-grams as {'Counters of tuples' if r['counting'] == 'counter' else 'hashes sorted with numpy'}"
                     f"; documents pass {p['documents_pass']['seconds']:.0f} s "
                     f"({', '.join(f'{k} {v:.0f} s' for k, v in p['documents_pass']['steps'].items())}), n-gram passes "
                     f"{passes}; languages and offensive pass {r['peer_models']['seconds']:.0f} s "
                     f"({', '.join(f'{k} {v:.0f} s' for k, v in r['peer_models']['steps'].items())}).")
    if out.get("split"):
        sp = out["split"]
        lines += ["", f"## Where the full audit's time goes ({sp['docs']:,} documents, {sp['seconds']:.0f} s in all)",
                  "", markdown_table(["step", "seconds", "share"], [[k, f"{v:.1f}", f"{100 * v / sp['seconds']:.0f}%"]
                                                                   for k, v in sp["steps"].items()]), ""]
    if out.get("memory"):
        lines += ["", "## Memory per part of the audit", "", memory_table(out), ""]
        for size in out["memory"].values():
            lines.append(f"- {size['docs']:,} documents in shards of {size['shard_size']:,}: peak MiB after each shard "
                         + ", ".join(f"{s['peak_rss_mib_so_far']:,.0f} ({s['seconds']:.0f} s)"
                                     for s in size["phases"]["shards"]["per_shard"]) + ".")
        lines.append("- \"start → peak\": resident memory once the corpus is open, and the part's peak, MiB, each "
                     "part in a fresh process; the seconds of the part in brackets.")
    if out.get("count"):
        lines += ["", f"## Counting a phrase (`gaia-lite count`), {out['count']['docs']:,} documents", "",
                  count_table(out), ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, help="keep and reuse corpora here (bench_scale.py's --root works)")
    p.add_argument("--million", type=int, default=1_000_000, help="documents of the replicated corpus, at least")
    p.add_argument("--no-million", action="store_true", help="only the default corpus (no memory at two sizes)")
    p.add_argument("--docs", type=int, help="use the first N docstrings (default: all)")
    p.add_argument("--small", type=int, default=SMALL, help="documents of the smaller corpus of the memory figures")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    p.add_argument("--section-only", action="store_true", help="only remake audit_section.md from audit.json")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child_reply(CHILD_MARK, CHILDREN[args.child[0]](*args.child[1:]))
        return 0
    if args.section_only:
        (args.out / "audit_section.md").write_text(section(read_json(args.out / "audit.json")))
        log(f"wrote {args.out / 'audit_section.md'}")
        return 0
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    root = args.root or Path(tempfile.mkdtemp(prefix="gaia_lite_bench_audit_"))
    root.mkdir(parents=True, exist_ok=True)
    corpus, _ = docstrings_corpus(root, args.docs, reuse=True)
    out = {"measured": utc_now(), "argv": sys.argv[1:] if argv is None else list(argv),
           "machine": machine_basics(REPO, ("gaia-lite", "datasets", "numpy", "datasketches", "pycld2", "py3langid",
                                            "alt-profanity-check", "scikit-learn", "tokenizers", "xxhash")),
           "corpora": {}}
    out["machine"]["cpu"] = cpu_model(platform.processor())
    out["machine"]["cores"] = len(os.sched_getaffinity(0))
    args.out.mkdir(parents=True, exist_ok=True)

    def save():
        write_json(args.out / "audit.json", out, end="\n")

    out["corpora"]["docstrings"] = measure(corpus, root)
    save()
    out["count"] = counts(corpus, PHRASES)  # over the word index the full audit left
    save()
    out["split"] = split(corpus)
    save()
    if not args.no_million:
        big, _ = million_corpus(corpus, root, args.million, args.seed, reuse=args.root is not None)
        small = small_corpus(big, root, args.small)
        out["memory"] = {"small": memory(small, root)}
        save()
        out["memory"]["big"] = memory(big, root)  # the audit's automatic shards keep the smaller corpus's size
        save()
        out["corpora"][big.name] = measure(big, root)
    out["machine"]["load_average_at_end"] = os.getloadavg()
    save()
    (args.out / "audit_section.md").write_text(section(out))
    print(throughput_table(out))
    if out.get("memory"):
        print(memory_table(out))
    print(count_table(out))
    log(f"wrote {args.out / 'audit.json'} and {args.out / 'audit_section.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
