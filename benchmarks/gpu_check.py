"""Checks gaia_lite's Encoder on a CUDA GPU against float32 on the CPU, with the same model and texts.

Run where a GPU is: ``python benchmarks/gpu_check.py [--model M] [--out FILE]``. It checks that the automatic
settings choose the GPU and bfloat16, and that the eager and compiled (torch.compile with freezing) encoders and
a query give vectors with cosine >= 0.99 to float32 on the CPU, float32 on the GPU >= 0.9999. The texts are the
docstrings of Python's standard library (about 2,800), so it needs no data. It prints the figures as JSON (also
written to ``--out``) and exits 1 if a check fails. Passes are timed once each, in a fixed order: a reading of
throughput, not a benchmark.
"""
import argparse
import importlib
import json
import sys
import time

import numpy as np
import torch

from gaia_lite.dense import DEFAULT_MODEL, Encoder

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--model", default=DEFAULT_MODEL, help="HF model id or local folder (default: %(default)s)")
p.add_argument("--out", help="also write the figures to this JSON file")
args = p.parse_args()
if not torch.cuda.is_available():
    sys.exit("no CUDA GPU here: run this where one is")
MODEL = args.model
docs = []
SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "pydoc_data", "lib2to3", "ensurepip",
        "venv", "xxsubtype", "msilib", "winreg", "winsound", "msvcrt", "nt", "_winapi", "readline", "curses"}
for m in sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in SKIP):
    try:
        mod = importlib.import_module(m)
    except Exception:  # noqa: BLE001  (a module that cannot be imported here gives no texts)
        continue
    for name in dir(mod):
        d = getattr(getattr(mod, name, None), "__doc__", None)
        if isinstance(d, str) and len(d) > 20:
            docs.append(d.strip())
docs = sorted(set(docs))[:4000]
print("texts", len(docs), "mean chars", sum(map(len, docs)) / len(docs), flush=True)
out = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "texts": len(docs)}

cpu = Encoder(model=MODEL, device="cpu", dtype="float32", compile=False)
ref_n = 256
ref = cpu.encode_documents(docs[:ref_n], progress=False)
auto = Encoder(model=MODEL)  # device and dtype chosen by gaia_lite
out["auto"] = {"device": auto.config.device, "dtype": auto.dtype}


def cos(a, b):
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())


def timed(e, texts):
    torch.cuda.synchronize()
    t = time.perf_counter()
    v = e.encode_documents(texts, progress=False)
    torch.cuda.synchronize()
    return v, time.perf_counter() - t



v, _ = timed(auto, docs[:ref_n])
out["auto_eager_min_cos_to_cpu_fp32"] = cos(v, ref)
query = "what is a hash table"
out["query_cos_to_cpu_fp32"] = cos(auto.encode_queries([query]), cpu.encode_queries([query]))
_, s = timed(auto, docs)
out["auto_eager_docs_per_s"] = len(docs) / s
compiled = Encoder(model=MODEL, compile=True)
t = time.perf_counter()
vc = compiled.encode_documents(docs[:ref_n], progress=False)
out["compile_s"] = time.perf_counter() - t
out["compiled"] = compiled.compiled
out["compiled_min_cos_to_cpu_fp32"] = cos(vc, ref)
out["compiled_min_cos_to_auto_eager"] = cos(vc, v)
_, s = timed(compiled, docs)
out["compiled_docs_per_s"] = len(docs) / s
f32 = Encoder(model=MODEL, dtype="float32", compile=False)
v32, _ = timed(f32, docs[:ref_n])
out["cuda_fp32_min_cos_to_cpu_fp32"] = cos(v32, ref)
_, s = timed(f32, docs)
out["cuda_fp32_docs_per_s"] = len(docs) / s
print(json.dumps(out, indent=1))
bf16_cosines = [out[k] for k in ("auto_eager_min_cos_to_cpu_fp32", "compiled_min_cos_to_cpu_fp32",
                                  "query_cos_to_cpu_fp32")]
ok = (out["auto"] == {"device": "cuda", "dtype": "bfloat16"} and out["compiled"] and min(bf16_cosines) >= 0.99
      and out["cuda_fp32_min_cos_to_cpu_fp32"] >= 0.9999)
print("GPU CHECK", "PASSED" if ok else "FAILED")
if args.out:
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
sys.exit(0 if ok else 1)
