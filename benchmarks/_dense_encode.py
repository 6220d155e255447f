"""bench_dense's encoding comparison: the systems that encode documents (sentence-transformers, gaia_lite's
``Encoder`` in float32, bfloat16 and through torch.compile, ONNX Runtime int8), their documents/s on the same
texts, call by call, and their vectors against sentence-transformers'."""

from __future__ import annotations

import contextlib
import gc
import io
import random
import statistics
from pathlib import Path
from time import perf_counter as perf

from _common import OtherLoad, log, rotated

from gaia_lite.dense.index import ENCODE_CALL_TEXTS

COMPILED = "gaia_lite bf16, torch.compile"
ORT_INT8 = "ONNX Runtime int8 (fused, per-channel dynamic)"


def sample_texts(corpus, n: int, seed: int) -> tuple[list[str], list[int]]:
    """title + " " + text (what the dense index encodes) of ``n`` seeded documents, in row order."""
    from gaia_lite.dense.index import document_texts

    rows = sorted(random.Random(seed).sample(range(len(corpus)), min(n, len(corpus))))
    cols = ["text"] + (["title"] if corpus.has_title else [])
    return document_texts(corpus.dataset.select_columns(cols).select(rows).to_dict()), rows


def token_stats(tokenizer, texts: list[str], max_length: int) -> dict:
    """Token counts of ``texts`` before and after truncation at ``max_length``, and their length in characters."""
    lengths = [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]]
    return {"tokens_mean": statistics.mean(lengths), "tokens_median": statistics.median(lengths),
            "share_truncated": sum(n > max_length for n in lengths) / len(lengths),
            "tokens_mean_after_truncation": statistics.mean(min(n, max_length) for n in lengths),
            "chars_mean": statistics.mean(map(len, texts))}


def onnxruntime_int8(folder: Path, tokenizer, max_length: int, workdir: Path):
    """The model exported to ONNX, fused by ONNX Runtime's transformer optimizer and quantized to int8 (dynamic,
    per channel), as an encode function (length-sorted batches of 64, mean pooling, L2 normalisation); or the
    reason it cannot run. optimum, the usual route, is not used: optimum-onnx 0.1.0 requires transformers < 4.58."""
    import numpy as np
    import torch
    from transformers import AutoModel

    try:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError as e:
        return None, f"skipped: {e}"
    workdir.mkdir(parents=True, exist_ok=True)
    raw, fused, int8 = workdir / "model.onnx", workdir / "model.fused.onnx", workdir / "model.int8.onnx"
    t = perf()
    try:
        # eager attention: the optimizer fuses its pattern into one Attention op (not the SDPA one)
        model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
        names = ["input_ids", "attention_mask", "token_type_ids"]

        class Hidden(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        dummy = tokenizer(["warm up", "a longer warm up text"], padding=True, return_tensors="pt")
        with contextlib.redirect_stderr(io.StringIO()):
            torch.onnx.export(Hidden(model), tuple(dummy[n] for n in names), str(raw), input_names=names,
                              output_names=["hidden"], opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]})
            cfg = model.config
            optimize_model(str(raw), model_type="bert", num_heads=cfg.num_attention_heads,
                           hidden_size=cfg.hidden_size).save_model_to_file(str(fused))
            quantize_dynamic(str(fused), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": 1})
    except Exception as e:  # noqa: BLE001  (any failure means: skipped, with its reason)
        return None, f"skipped: {type(e).__name__}: {str(e).splitlines()[0][:300]}"
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}

    def encode(texts):
        out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(texts), 64):
            idx = order[start:start + 64]
            b = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                          return_tensors="np")
            hidden = session.run(None, {k: v for k, v in b.items() if k in inputs})[0]
            mask = b["attention_mask"][..., None].astype(np.float32)
            v = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out

    return encode, f"exported, fused and quantized in {perf() - t:.1f} s ({int8.stat().st_size / 2**20:.0f} MiB)"


def encoders(folder: Path, workdir: Path) -> tuple[dict, dict]:
    """``{name: encode(texts) -> float32 array}`` for every system, and notes on those that could not run."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from gaia_lite.config import EncoderConfig
    from gaia_lite.dense import Encoder

    systems, notes = {}, {}
    st32 = SentenceTransformer(str(folder), device="cpu")
    systems["sentence-transformers fp32"] = lambda t: st32.encode(t, batch_size=64, show_progress_bar=False,
                                                                  convert_to_numpy=True)
    g32 = Encoder(EncoderConfig(dtype="float32"))
    systems["gaia_lite fp32"] = lambda t: g32.encode_documents(t, progress=False)
    g16 = Encoder(EncoderConfig(dtype="bfloat16"))
    systems["gaia_lite bf16"] = lambda t: g16.encode_documents(t, progress=False)
    notes["auto_dtype"] = Encoder(EncoderConfig(dtype="auto")).dtype
    notes["max_length"] = {"gaia_lite": g32.config.max_length, "sentence-transformers": st32.max_seq_length}
    try:
        st16 = SentenceTransformer(str(folder), device="cpu")
        st16.to(torch.bfloat16)

        def st16_encode(t):
            out = st16.encode(t, batch_size=64, show_progress_bar=False, convert_to_tensor=True)
            return out.float().cpu().numpy().astype(np.float32)

        st16_encode(["warm up"])
        systems["sentence-transformers bf16 (reference)"] = st16_encode
    except Exception as e:  # noqa: BLE001
        notes["sentence-transformers bf16"] = f"skipped: {type(e).__name__}: {e}"
    compiled = Encoder(EncoderConfig(dtype="bfloat16", compile=True))
    t = perf()
    compiled.encode_documents(["warm up"] * 64, progress=False)  # compiles (TorchInductor's cache may help)
    notes["compile_s"] = perf() - t
    if compiled.compiled:
        systems[COMPILED] = lambda t: compiled.encode_documents(t, progress=False)
    else:
        notes[COMPILED] = "skipped: torch.compile failed (see the warning above)"
    ort_encode, notes["onnxruntime int8"] = onnxruntime_int8(folder, g32.tokenizer, g32.config.max_length, workdir)
    if ort_encode is not None:
        systems[ORT_INT8] = ort_encode
    return systems, {"notes": notes, "gaia_fp32": g32, "gaia_bf16": g16}


def bench_encode(systems: dict, texts: list[str], repeat: int) -> dict:
    """docs/s of each system on ``texts``: a warm-up, then ``repeat`` rounds over the sample in calls of
    ``ENCODE_CALL_TEXTS`` texts (as a build calls the encoder), every system making each call in turn (rotating
    order). This machine's speed drifts by tens of percent within a minute, so the systems are compared call by
    call: ``ratio_to_st_fp32`` is sentence-transformers fp32's total time over the system's, on the same calls
    close in time. Also reported: the best and median round (whole sample) and the median of the per-call
    ratios."""
    import numpy as np

    names = list(systems)
    for name in names:
        systems[name](texts[:64])
    # Longest first, as each system batches: a call pads no more than the whole sample would.
    texts = sorted(texts, key=len, reverse=True)
    calls = [texts[i:i + ENCODE_CALL_TEXTS] for i in range(0, len(texts), ENCODE_CALL_TEXTS)]
    seconds: dict = {name: [0.0] * repeat for name in names}
    call_seconds: dict = {name: [] for name in names}
    loads: dict = {name: [] for name in names}
    vectors: dict = {name: [] for name in names}
    for r in range(repeat):
        for c, call in enumerate(calls):
            for name in rotated(names, r * len(calls) + c):
                gc.collect()
                with OtherLoad() as load:
                    t = perf()
                    v = systems[name](call)
                    dt = perf() - t
                seconds[name][r] += dt
                call_seconds[name].append(dt)
                loads[name].append(load.cores)
                if r == 0:
                    vectors[name].append(np.asarray(v, dtype=np.float32))
        log(f"    round {r + 1}/{repeat}: " + ", ".join(f"{name} {len(texts) / seconds[name][r]:.1f}"
                                                     for name in names) + " docs/s")
    vectors = {name: np.vstack(v) for name, v in vectors.items()}
    ref, base = vectors["sentence-transformers fp32"], call_seconds["sentence-transformers fp32"]
    out = {}
    for name in names:
        v = vectors[name]
        cos = (v * ref).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(ref, axis=1))
        out[name] = {"docs_per_s": len(texts) / min(seconds[name]),
                     "docs_per_s_median": len(texts) / statistics.median(seconds[name]),
                     "seconds": seconds[name], "call_texts": ENCODE_CALL_TEXTS,
                     "ratio_to_st_fp32": sum(base) / sum(call_seconds[name]),
                     "call_ratio_median": statistics.median(b / s for b, s in zip(base, call_seconds[name])),
                     "other_processes_cores_max": round(max(loads[name]), 2),
                     "cosine_to_st_fp32_min": float(cos.min()), "cosine_to_st_fp32_mean": float(cos.mean())}
    return out
