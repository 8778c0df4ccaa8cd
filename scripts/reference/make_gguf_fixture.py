#!/usr/bin/env python3
"""A tiny llama GGUF file (converted from the hf-tiny llama fixture) and transformers' logits for it.

What it computes: writes /work/shared/fixtures/hf-tiny/llama-tiny as GGUF v3 with the `gguf`
package's GGUFWriter the way llama.cpp's convert_hf_to_gguf.py does: llama.* metadata, the
gpt2 tokenizer (tokens in id order, merges, token types with <unk>/<s>/</s> as control tokens,
bos/eos/unk/pad ids, a ChatML chat template), tensor names token_embd / blk.N.* / output_norm /
output, and attn_q / attn_k rows permuted for llama.cpp's rotary layout. Tensor types are mixed to
exercise every dequantiser: attn_q and ffn_up Q8_0, ffn_gate Q4_1, ffn_down Q4_0, attn_output F16,
the rest F32. Then PyPI transformers loads that file (`from_pretrained(dir, gguf_file=...)`, its own
dequantisation and un-permutation) and records the logits of two prompts and its token ids for
a text, into reference.json beside the file.

Versions: written with torch 2.15.0, transformers 5.24.0, accelerate 1.16.0, gguf 0.19.0
(reference.json records the versions used).

Output: <out>/llama-tiny-mixed.gguf and <out>/llama-tiny-mixed.json, where <out> is the first
argument, else $DALM_REFERENCE_DIR/gguf, else ~/.cache/dalm/reference/gguf.

Run:  ~/.cache/dalm/pyref/bin/python scripts/reference/make_gguf_fixture.py
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch
import transformers
import gguf
from importlib.metadata import version
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

FIXTURE = "/work/shared/fixtures/hf-tiny/llama-tiny"
NAME = "llama-tiny-mixed"
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
TEXT = "Hello world, the quick brown fox!"
Q = gguf.GGMLQuantizationType


def permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf.py LlamaModel.permute."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def out_dir() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    base = os.environ.get("DALM_REFERENCE_DIR") or os.path.expanduser("~/.cache/dalm/reference")
    return os.path.join(base, "gguf")


def main() -> None:
    cfg = json.load(open(os.path.join(FIXTURE, "config.json")))
    tok_json = json.load(open(os.path.join(FIXTURE, "tokenizer.json")))
    vocab = tok_json["model"]["vocab"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok_json["model"]["merges"]]
    d = out_dir()
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{NAME}.gguf")
    tmp = path + ".tmp"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name("llama-tiny (hf-tiny fixture)")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_rope_dimension_count(cfg["hidden_size"] // cfg["num_attention_heads"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_merges(merges)
    w.add_token_types([3 if i < 3 else 1 for i in range(len(tokens))])
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    w.add_unk_token_id(0)
    w.add_pad_token_id(cfg["pad_token_id"])
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)
    sd = load_file(os.path.join(FIXTURE, "model.safetensors"))
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
    layer = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
             "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    kinds = {"attn_q": Q.Q8_0, "ffn_up": Q.Q8_0, "ffn_gate": Q.Q4_1, "ffn_down": Q.Q4_0, "attn_output": Q.F16}
    for hf in sorted(sd):
        t = sd[hf].astype(np.float32)
        if hf in names:
            g, kind = names[hf], Q.F32
        else:
            parts = hf.split(".")
            sub = ".".join(parts[3:-1])
            g = f"blk.{parts[2]}.{layer[sub]}.weight"
            kind = kinds.get(layer[sub], Q.F32)
            if layer[sub] == "attn_q":
                t = permute(t, cfg["num_attention_heads"])
            if layer[sub] == "attn_k":
                t = permute(t, cfg["num_key_value_heads"])
        if kind == Q.F32:
            w.add_tensor(g, t)
        elif kind == Q.F16:
            w.add_tensor(g, t.astype(np.float16))
        else:
            q = gguf.quants.quantize(t, kind)
            w.add_tensor(g, q, raw_shape=q.shape, raw_dtype=kind)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, path)

    tok = AutoTokenizer.from_pretrained(d, gguf_file=os.path.basename(path))
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=os.path.basename(path), dtype=torch.float32).eval()
    inputs = [[1, 5, 17, 33, 8, 90, 41, 12], [1, 44, 9, 71, 16, 58, 23, 85]]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(inputs)).logits
    ref = {
        "what": f"transformers logits and token ids for {NAME}.gguf (written by this script from hf-tiny llama-tiny)",
        "script": "scripts/reference/make_gguf_fixture.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "gguf": version("gguf")},
        "gguf_path": path,
        "input_ids": inputs,
        "logits": logits.tolist(),
        "text": TEXT,
        "text_ids": tok(TEXT, add_special_tokens=False)["input_ids"],
        "atol": 1e-4,
    }
    fd, tmpj = tempfile.mkstemp(dir=d, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(ref, f)
    os.chmod(tmpj, 0o644)
    os.replace(tmpj, os.path.join(d, f"{NAME}.json"))
    print(f"wrote {path} and {NAME}.json; text ids {ref['text_ids']}")


if __name__ == "__main__":
    main()
