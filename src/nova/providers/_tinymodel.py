"""A tiny llama-architecture GGUF that nova writes itself: the offline test and demo model.

Random weights, a byte vocabulary (SentencePiece-style ``<0xNN>`` tokens, which llama.cpp
falls back to for every byte it has no other token for) and a ChatML-like chat template, so
``llama_cpp.server`` serves it like any real chat model. Its answers are gibberish, but they
are printable ASCII only (one token is one character) and never end early: with
``temperature=0`` every answer is exactly ``max_tokens`` long and ends with ``length``, which
makes token counts and timings easy to check.

Written with the ``gguf`` package from ``nova[local]``: with the defaults about 0.5 MB,
written in well under a second, the same bytes for the same seed.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from nova.errors import MissingDependencyError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["CHAT_TEMPLATE", "TINY_MODEL_FILE", "tiny_model_path", "write_tiny_llama"]

TINY_MODEL_FILE = "nova-tiny-llama-v2.gguf"
"""File name in the cache folder; bump the version when the weights or layout change."""

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] or '' }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""ChatML-like, with plain-text markers (the tiny vocabulary has no special tokens for them)."""

_UNK, _BOS, _EOS = 0, 1, 2
_N_SPECIAL = 3
# Hidden dimension 0 carries a constant (every embedding has it, no layer writes to it), so
# after the final RMS norm it is a large positive number; output weights of -_BLOCK on that
# dimension push a token's logit tens of standard deviations below the others.
_CONST = 2.0
_BLOCK = 100.0


def write_tiny_llama(
    path: Path,
    *,
    seed: int = 0,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_ff: int = 128,
    ctx: int = 4096,
) -> Path:
    """Write a tiny random llama GGUF to ``path`` and return ``path``.

    The same arguments give the same bytes. Needs ``numpy`` and ``gguf`` (``nova[local]``).
    """
    if n_embd % n_head:
        raise ValueError(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})")
    try:
        import gguf
        import numpy as np
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            "the tiny test model (llamacpp provider)", "local", exc.name or "gguf"
        ) from None

    rng = np.random.default_rng(seed)
    f32 = np.float32

    def normal(rows: int, cols: int) -> npt.NDArray[np.float32]:
        # numpy order is (out, in); gguf reverses it to ggml's (in, out).
        return (rng.standard_normal((rows, cols)) / math.sqrt(cols)).astype(f32)

    def no_write_to_const(m: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        m[0, :] = 0.0  # layers never change the constant dimension of the residual stream
        return m

    tokens = [b"<unk>", b"<s>", b"</s>"] + [f"<0x{b:02X}>".encode() for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(None, "llama")
    w.add_name("nova-tiny-llama")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_vocab_size(n_vocab)
    w.add_context_length(ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types(types)
    w.add_unk_token_id(_UNK)
    w.add_bos_token_id(_BOS)
    w.add_eos_token_id(_EOS)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)
    w.add_chat_template(CHAT_TEMPLATE)

    embd = rng.standard_normal((n_vocab, n_embd)).astype(f32)
    embd[:, 0] = _CONST
    w.add_tensor("token_embd.weight", embd)
    for i in range(n_layer):
        b = f"blk.{i}"
        w.add_tensor(f"{b}.attn_norm.weight", np.ones(n_embd, dtype=f32))
        w.add_tensor(f"{b}.attn_q.weight", normal(n_embd, n_embd))
        w.add_tensor(f"{b}.attn_k.weight", normal(n_embd, n_embd))
        w.add_tensor(f"{b}.attn_v.weight", normal(n_embd, n_embd))
        w.add_tensor(f"{b}.attn_output.weight", no_write_to_const(normal(n_embd, n_embd)))
        w.add_tensor(f"{b}.ffn_norm.weight", np.ones(n_embd, dtype=f32))
        w.add_tensor(f"{b}.ffn_gate.weight", normal(n_ff, n_embd))
        w.add_tensor(f"{b}.ffn_up.weight", normal(n_ff, n_embd))
        w.add_tensor(f"{b}.ffn_down.weight", no_write_to_const(normal(n_embd, n_ff)))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=f32))
    out = normal(n_vocab, n_embd)
    out[:, 0] = 0.0
    # Only printable ASCII may come out: no control tokens (so no early end of generation),
    # no control characters, no bytes >= 0x80 (which could form invalid UTF-8).
    printable = np.zeros(n_vocab, dtype=bool)
    printable[_N_SPECIAL + 0x20 : _N_SPECIAL + 0x7F] = True
    out[~printable, 0] = -_BLOCK
    w.add_tensor("output.weight", out)

    try:
        w.write_header_to_file(path=Path(path))
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
    finally:
        w.close()
    return Path(path)


def tiny_model_path(cache_dir: Path, seed: int = 0) -> Path:
    """The tiny model (weights from ``seed``) in ``cache_dir``, written there first if it is
    not there yet.

    Written to a temporary file and renamed, so a reader never sees half a file, even when
    two processes race to write it.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = TINY_MODEL_FILE if seed == 0 else TINY_MODEL_FILE.replace(".gguf", f"-s{seed}.gguf")
    target = cache_dir / name
    if target.is_file():
        return target
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=cache_dir)
    os.close(fd)
    try:
        write_tiny_llama(Path(tmp), seed=seed)
        Path(tmp).replace(target)  # os.replace: atomic on one file system
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
