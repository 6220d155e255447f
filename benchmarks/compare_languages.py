"""Language identification for ``gaia-lite audit``: four libraries whose models ship in their wheels, compared.

Run ``python benchmarks/compare_languages.py`` (``--json PATH`` also writes the figures). Each detector runs in a
fresh child process, so its import and load time and its memory (resident set after loading, less before
importing) are its own. On the labelled sample ``tests/data/languages/sample.jsonl`` (30 languages: 30 sentences
and 20 word pairs each, from lingua-py's test data; see its README) it measures:

- accuracy overall and on the short texts (under 50 characters), a text's language given as ISO 639-1;
- milliseconds per text on the sample, and on long documents (SciFact abstracts from ``indexes/scifact``, about
  1,500 characters, where that corpus is built): whole, and cut to their first ``--cut`` characters;
- determinism: the sample identified twice in one process, and once more in another process, gives the same
  answers.

``gaia_lite`` is the audit's detector (:mod:`gaia_lite.analysis.languages`): CLD2, and py3langid for the texts
CLD2 does not call reliably. lingua runs in its high-accuracy mode and in its low-accuracy mode (trigrams only), both with every language it
knows; the others with every language they know too. langdetect is random unless seeded; here it runs unseeded
(as a user would find it) for the determinism check, and seeded (``DetectorFactory.seed = 0``) for the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "languages" / "sample.jsonl"
SHORT = 50
DETECTORS = ("lingua", "lingua-low", "py3langid", "pycld2", "langdetect", "langdetect-unseeded", "gaia_lite")


def rss_mib() -> float:
    """This process's resident memory now, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(name: str):
    """A function text -> ISO 639-1 code ("" for none) for detector ``name``."""
    if name == "gaia_lite":  # the audit's choice: CLD2, py3langid where CLD2 is unsure
        sys.path.insert(0, str(REPO))
        from gaia_lite.analysis.languages import LanguageDetector

        detector = LanguageDetector()
        return lambda text: detector.detect(text)[0]
    if name.startswith("lingua"):
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
        if name == "lingua-low":
            builder = builder.with_low_accuracy_mode()
        detector = builder.build()

        def detect(text):
            lang = detector.detect_language_of(text)
            return lang.iso_code_639_1.name.lower() if lang is not None else ""
        return detect
    if name == "py3langid":
        from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
        return lambda text: identifier.classify(text)[0]
    if name == "pycld2":
        import re

        import pycld2

        # pycld2 rejects control characters (U+0080-U+009F, as in cp1252 text read as Latin-1) and lone surrogates
        # as "invalid UTF-8": they go first, as gaia_lite.analysis.languages does.
        controls = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

        def detect(text):
            try:
                reliable, _, details = pycld2.detect(text)
            except pycld2.error:
                reliable, _, details = pycld2.detect(controls.sub(" ", text))
            code = details[0][1].split("-")[0]
            return "" if code in ("un", "xx") else {"iw": "he", "jw": "jv", "in": "id"}.get(code, code)  # old codes
        return detect
    if name.startswith("langdetect"):
        from langdetect import DetectorFactory, detect as ld_detect
        from langdetect.lang_detect_exception import LangDetectException

        if name == "langdetect":
            DetectorFactory.seed = 0

        def detect(text):
            try:
                return ld_detect(text).split("-")[0]
            except LangDetectException:  # no features in the text
                return ""
        return detect
    raise KeyError(name)


def long_documents(limit: int = 500) -> list[str]:
    """SciFact abstracts (title and text), the first ``limit``, where the corpus is built; else none."""
    folder = REPO / "indexes" / "scifact" / "dataset"
    if not folder.is_dir():
        return []
    import datasets

    ds = datasets.load_from_disk(str(folder)).select(range(limit))
    return [f"{t}\n{x}" for t, x in zip(ds["title"], ds["text"])]


def ms_per_text(detect, texts: list[str], rounds: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for t in texts:
            detect(t)
    return (time.perf_counter() - start) * 1000 / (rounds * len(texts))


def child(name: str, cut: int) -> dict:
    """Measure detector ``name`` in this (fresh) process."""
    sample = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    texts = [r["text"] for r in sample]
    before = rss_mib()
    start = time.perf_counter()
    detect = load(name)
    detect("warm up: the first call loads lazily loaded parts")
    load_s = time.perf_counter() - start
    memory = rss_mib() - before
    first = [detect(t) for t in texts]
    second = [detect(t) for t in texts]
    right = [p == r["language"] for p, r in zip(first, sample)]
    short = [ok for ok, r in zip(right, sample) if len(r["text"]) < SHORT]
    longs = long_documents()
    return {
        "detector": name, "load_s": round(load_s, 3), "memory_mib": round(memory, 1),
        "accuracy": sum(right) / len(right), "accuracy_short": sum(short) / len(short),
        "texts": len(texts), "short_texts": len(short),
        "ms_sample": ms_per_text(detect, texts, 2),
        "ms_long": ms_per_text(detect, longs) if longs else None,
        "ms_long_cut": ms_per_text(detect, [t[:cut] for t in longs]) if longs else None,
        "same_twice": first == second, "answers": first,
    }


def run_child(name: str, cut: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", name, "--cut", str(cut)], capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "random"})
    return json.loads(out.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Print the comparison table (and write it as JSON with ``--json``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--cut", type=int, default=500, help="characters kept of a long document in the cut run")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.cut)))
        return 0
    rows = []
    for name in DETECTORS:
        a, b = run_child(name, args.cut), run_child(name, args.cut)  # two processes: same answers?
        a["same_across_processes"] = a["answers"] == b["answers"]
        rows.append(a)
    print(f"Sample: {rows[0]['texts']} texts in 30 languages, {rows[0]['short_texts']} under {SHORT} characters; "
          f"long = SciFact title+abstract, cut = its first {args.cut} characters\n")
    head = (f"{'detector':<20} {'acc':>6} {'acc<50':>7} {'ms/text':>8} {'ms/long':>8} {'ms/cut':>7} {'docs/s cut':>10} "
            f"{'load s':>7} {'MiB':>6} {'deterministic':>14}")
    print(head)
    print("-" * len(head))
    for r in rows:
        fmt = lambda v, w, spec: f"{v:>{w}{spec}}" if v is not None else f"{'-':>{w}}"  # noqa: E731
        docs_s = 1000 / r["ms_long_cut"] if r["ms_long_cut"] else None
        determ = "yes" if r["same_twice"] and r["same_across_processes"] else (
            "no (in process)" if not r["same_twice"] else "no (processes)")
        print(f"{r['detector']:<20} {r['accuracy']:>6.3f} {r['accuracy_short']:>7.3f} {r['ms_sample']:>8.3f} "
              f"{fmt(r['ms_long'], 8, '.3f')} {fmt(r['ms_long_cut'], 7, '.3f')} {fmt(docs_s, 10, ',.0f')} "
              f"{r['load_s']:>7.2f} {r['memory_mib']:>6.0f} {determ:>14}")
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "answers"} for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
