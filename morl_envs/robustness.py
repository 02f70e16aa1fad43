"""Run the adversarial reward suite (:mod:`reward_models.robustness`) on an environment's reward models.

    python -m morl_envs.robustness --env morl/Counsel-v2 [--set pair|counsel|both|pair2|counsel_extra|all]
                                   [--out FILE.json] [--markdown]
                                   [--check] [--seed 0] [--data-dir DIR] [--max-prompts N] [--weights DIR ...]

Genuine replies (what every degenerate reply is compared with):
- ``pair``: PAIR's held-out prompts (the validation and test splits of ``morl/PAIR-v2``, 64 prompts the reflection
  model never saw in training), each with its first complex reflection (``hq1``), read from ``$MORL_DATA_DIR`` /
  ``--data-dir`` (``pair/pair.csv``).
- ``pair2`` (only when asked for; not in ``both``): the same prompts with their *second* complex reflection
  (``hq2``). The reward models' recipes were chosen by the suite's verdicts on ``hq1``; ``hq2`` was never looked at
  in that choice, so it is the check of whether a verdict holds for another genuine reply to the same prompt.
- ``counsel``: the validation and test statements of ``morl/Counsel-v2`` with the project's written reflections
  (``morl_envs/data/counsel_reflections.json``); skipped with a message while that file is absent.
- ``counsel_extra`` (only when asked for; not in ``both``): statements on the Counsel set's topics written for the
  suite alone, each with a written reflection (``morl_envs/data/counsel_heldout_extra.json``).

``both`` runs pair and counsel. ``all`` runs the four sets and judges the thresholds on two pools, each read as one
set: ``pair_all`` (pair + pair2: two genuine replies per PAIR prompt) and ``counsel_all`` (counsel + counsel_extra).
A share over 64 or 110 prompts has a 95% interval about 0.1 wide, too wide to tell a 0.95 bar from 0.90; the pools
narrow it.

Prints, per set, the share of prompts on which the genuine reply beats each generator (``--markdown``: the full
markdown tables with mean scores) and every missed threshold
(``reward_models.robustness.THRESHOLDS``); with ``all``, also each pool's. The exit status is 0 (a report), or 1
with ``--check`` when a threshold is missed (with ``all``: by a pool).

``--weights DIR`` scores with retrained models instead of the environment's (``python -m reward_models.train --out
DIR`` writes them): each of ``reflection.safetensors``, ``empathy.safetensors`` and ``well_formed.safetensors`` (the
fluency objective's head) found in DIR replaces the model of its objective; the others stay as registered. Given
more than once, the folders holding one objective's file are scored as one model, the mean of their scores
(:class:`MeanScorer`: a seed ensemble, e.g. two training seeds of one recipe).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from morl_core.errors import DataNotFoundError, did_you_mean
from morl_core.files import write_atomic
from morl_core.pair_data import read_pair_rows
from morl_envs.datasets import SPLITS, load_counsel, load_pair, resolve_data_dir
from morl_envs.registry import env_ids, make
from reward_models.empathy import EmpathyModel
from reward_models.fluency import FluencyModel
from reward_models.reflection import ReflectionModel
from reward_models.robustness import THRESHOLDS, UNIFORM, SuiteResult, pool_results, run_suite

#: the project's written reflections of the Counsel statements: {"reflections": [{"prompt_id", "split", "text"}]}
COUNSEL_REFLECTIONS_FILE = Path(__file__).resolve().parent / "data" / "counsel_reflections.json"
#: the splits whose prompts make up a genuine set (never the training split)
HELD_OUT = ("validation", "test")
#: statements written for the suite alone (no environment serves them, no training reads them), each with a written
#: reflection: {"pairs": [{"prompt_id", "topic", "prompt", "reflection"}]}
COUNSEL_EXTRA_FILE = COUNSEL_REFLECTIONS_FILE.with_name("counsel_heldout_extra.json")
SETS = ("pair", "counsel")
#: the sets run only when named (or with ``all``): PAIR's held-out prompts with their second complex reflection
#: (column hq2), and the statements written for the suite alone
EXTRA_SETS = ("pair2", "counsel_extra")
#: ``--set all`` judges the thresholds on these pools (each reads its sets' prompts at once)
POOLS = {"pair_all": ("pair", "pair2"), "counsel_all": ("counsel", "counsel_extra")}
#: the sets ``--set all`` runs, in order
ALL_SETS = tuple(name for members in POOLS.values() for name in members)
#: PAIR's complex reflections: set name -> (column of pair/pair.csv, its name)
PAIR_REFLECTIONS = {"pair": (1, "hq1"), "pair2": (2, "hq2")}


@dataclass(frozen=True)
class GenuineSet:
    """Held-out prompts with one genuine (written) reply each."""

    name: str
    prompt_ids: tuple[str, ...]
    prompts: tuple[str, ...]
    genuine: tuple[str, ...]
    source: str

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical (id, prompt, genuine reply) listing."""
        listing = json.dumps(list(zip(self.prompt_ids, self.prompts, self.genuine)), ensure_ascii=False)
        return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def pair_set(data_dir: str | Path | None = None, name: str = "pair") -> GenuineSet:
    """PAIR's validation and test prompts with their first complex reflection (column hq1), or with their second
    (hq2) for ``name="pair2"``."""
    if name not in PAIR_REFLECTIONS:
        raise ValueError(f"`name` must be one of {tuple(PAIR_REFLECTIONS)}; got {name!r}."
                         f"{did_you_mean(str(name), tuple(PAIR_REFLECTIONS))}")
    column, column_name = PAIR_REFLECTIONS[name]
    folder = resolve_data_dir(data_dir)
    if folder is None:
        raise DataNotFoundError("PAIR data not found: pass `data_dir` / --data-dir (the folder holding "
                                "pair/pair.csv) or set the MORL_DATA_DIR environment variable; neither is set")
    prompt_set, rows = load_pair(folder), read_pair_rows(folder)
    held = [p for split in HELD_OUT for p in prompt_set.split(split)]
    genuine = [rows[int(p.id.removeprefix("pair-"))][column].strip() for p in held]
    return GenuineSet(name, tuple(p.id for p in held), tuple(p.text for p in held), tuple(genuine),
                      f"PAIR (Min et al., 2022) pair/pair.csv under MORL_DATA_DIR: validation + test prompts, "
                      f"{column_name}")


def _entries(path: Path, key: str, fields: tuple[str, ...]) -> list:
    """The list under ``key`` of the JSON file ``path`` (a ValueError naming the shape the file must have if none)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    entries = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        shape = "{" + ", ".join(f'"{f}"' for f in fields) + "}"
        raise ValueError(f'{path.name} must hold {{"{key}": [{shape}, ...]}}; got {type(raw).__name__} without '
                         f"a '{key}' list")
    return entries


def counsel_set(path: str | Path | None = None) -> GenuineSet | None:
    """The Counsel validation and test statements with the project's written reflections (``path``, default
    :data:`COUNSEL_REFLECTIONS_FILE`), or None when that file is absent. Statements without a reflection are left
    out (the source line says how many)."""
    path = Path(path) if path is not None else COUNSEL_REFLECTIONS_FILE
    if not path.is_file():
        return None
    entries = _entries(path, "reflections", ("prompt_id", "split", "text"))
    prompts = {p.id: p for split in SPLITS for p in load_counsel().split(split)}
    by_id: dict[str, str] = {}
    for k, entry in enumerate(entries):
        prompt_id = entry.get("prompt_id") if isinstance(entry, dict) else None
        if prompt_id not in prompts:
            raise ValueError(f"{path.name}: reflections[{k}]['prompt_id'] must be an id of counsel_prompts.json; "
                             f"got {prompt_id!r}.{did_you_mean(str(prompt_id), list(prompts))}")
        if entry.get("split") != prompts[prompt_id].split:
            raise ValueError(f"{path.name}: reflections[{k}]['split'] must be {prompts[prompt_id].split!r} (the "
                             f"split of {prompt_id}); got {entry.get('split')!r}")
        text = entry.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{path.name}: reflections[{k}]['text'] must be a non-empty str; got {text!r:.60}")
        by_id.setdefault(prompt_id, text.strip())
    held = [p for split in HELD_OUT for p in load_counsel().split(split)]
    chosen = [p for p in held if p.id in by_id]
    source = (f"morl_envs/data/counsel_reflections.json: validation + test statements of counsel_prompts.json "
              f"with a written reflection ({len(chosen)} of {len(held)})")
    return GenuineSet("counsel", tuple(p.id for p in chosen), tuple(p.text for p in chosen),
                      tuple(by_id[p.id] for p in chosen), source)


def counsel_extra_set(path: str | Path | None = None) -> GenuineSet | None:
    """Client statements written for the suite alone, on the Counsel set's topics, each with a written reflection
    (``path``, default :data:`COUNSEL_EXTRA_FILE`), or None when that file is absent. No environment serves them and
    no training reads them. The file orders them so that the ``mismatched`` generator's partner (half the set away)
    is a statement on the same topic, as in the ``counsel`` set."""
    path = Path(path) if path is not None else COUNSEL_EXTRA_FILE
    if not path.is_file():
        return None
    fields = ("prompt_id", "topic", "prompt", "reflection")
    ids, prompts, replies, seen = [], [], [], set()
    for k, entry in enumerate(_entries(path, "pairs", fields)):
        for key in fields:
            value = entry.get(key) if isinstance(entry, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{path.name}: pairs[{k}][{key!r}] must be a non-empty str; got {value!r:.60}")
        if entry["prompt_id"] in seen:
            raise ValueError(f"{path.name}: pairs[{k}]['prompt_id'] must be unique; got {entry['prompt_id']!r} twice")
        seen.add(entry["prompt_id"])
        ids.append(entry["prompt_id"])
        prompts.append(entry["prompt"].strip())
        replies.append(entry["reflection"].strip())
    return GenuineSet("counsel_extra", tuple(ids), tuple(prompts), tuple(replies),
                      f"morl_envs/data/{path.name}: {len(ids)} statements written for the suite alone, each with a "
                      f"written reflection")


def retrained_models(folder: Path, objectives: tuple[str, ...], device: str | None = None) -> dict:
    """The models of ``objectives`` whose retrained files are in ``folder`` (see the module docstring)."""
    builders = {"reflection": ("reflection.safetensors", lambda f: ReflectionModel(f, device=device)),
                "empathy": ("empathy.safetensors", lambda f: EmpathyModel(f, device=device)),
                "fluency": ("well_formed.safetensors", lambda f: FluencyModel(device=device, well_formed=f))}
    return {name: build(folder / file) for name, (file, build) in builders.items()
            if name in objectives and (folder / file).is_file()}


class MeanScorer:
    """Several models of one objective scored as one: the mean of their scores. Averaging training seeds of one
    recipe evens out each seed's own mistakes on a few replies (a seed ensemble)."""

    def __init__(self, models: list) -> None:
        if len(models) < 2:
            raise ValueError(f"`models` must hold at least 2 models to average; got {len(models)}")
        self.models = list(models)

    def __call__(self, prompts: list[str], replies: list[str]) -> np.ndarray:
        return np.mean([np.asarray(m(prompts, replies), dtype=np.float64) for m in self.models], axis=0)

    def fingerprint(self) -> str:
        """The members' fingerprints, in order."""
        return "mean(" + ", ".join(m.fingerprint() for m in self.models) + ")"


def ensemble_models(folders: list[Path], objectives: tuple[str, ...], device: str | None = None) -> dict:
    """Per objective, the retrained model of the one folder that holds its file, or the :class:`MeanScorer` of
    those of several folders (see :func:`retrained_models`)."""
    found: dict[str, list] = {}
    for folder in folders:
        for name, model in retrained_models(folder, objectives, device).items():
            found.setdefault(name, []).append(model)
    return {name: models[0] if len(models) == 1 else MeanScorer(models) for name, models in found.items()}


def plain_table(result: SuiteResult) -> str:
    """The shares won by the genuine reply as a fixed-width text table (a missed threshold is marked '!')."""
    shares, columns = result.shares(), (*result.objectives, UNIFORM)
    missed = {(f.generator, f.objective) for f in result.failures() if f.criterion == "beats"}
    lines = [f"{'generator':<18}" + "".join(f"{c:>13}" for c in columns)]
    for g in result.generators:
        lines.append(f"{g:<18}" + "".join(
            f"{shares[g][c]:>12.2f}{'!' if (g, c) in missed else ' '}" for c in columns))
    for objective, by_generator in result.copy_shares().items():
        lines.append(f"no gain from copying ({objective}): "
                     + ", ".join(f"{g} {s:.2f}" for g, s in by_generator.items()))
    return "\n".join(lines)


def genuine_set(name: str, data_dir: str | Path | None = None) -> GenuineSet | None:
    """The genuine set called ``name`` (one of :data:`ALL_SETS`; PAIR's are read from ``data_dir``), or None when
    the project's file for a Counsel set is absent."""
    if name == "counsel":
        return counsel_set()
    if name == "counsel_extra":
        return counsel_extra_set()
    return pair_set(data_dir, name)


def load_sets(names: tuple[str, ...], data_dir: str | None, max_prompts: int | None) -> list[GenuineSet]:
    """The named genuine sets (a set whose file is absent, or with under two prompts, is skipped with a message),
    each cut to its first ``max_prompts`` prompts when that is given."""
    chosen: list[GenuineSet] = []
    for name in names:
        found = genuine_set(name, data_dir)
        if found is None:
            file = COUNSEL_REFLECTIONS_FILE if name == "counsel" else COUNSEL_EXTRA_FILE
            print(f"skipping the {name} set: the written reflections ({file.name}) are absent", file=sys.stderr)
        elif len(found.prompts) < 2:
            print(f"skipping the {name} set: it has {len(found.prompts)} prompts with a genuine reply (need 2)",
                  file=sys.stderr)
        else:
            chosen.append(found if max_prompts is None else GenuineSet(
                found.name, found.prompt_ids[:max_prompts], found.prompts[:max_prompts],
                found.genuine[:max_prompts], f"{found.source}, first {max_prompts}"))
    return chosen


def report(title: str, result: SuiteResult, markdown: bool) -> list:
    """Print one result's table and its missed thresholds; returns the misses."""
    failures = result.failures()
    print(f"\n## {title}\n")
    print(result.to_markdown() if markdown else plain_table(result))
    print(f"\n{len(failures)} missed thresholds" + (":" if failures else ""))
    for f in failures:
        what = "no gain from copying" if f.criterion == "no_copy_gain" else "genuine wins"
        print(f"  {f.generator:<18} {f.objective:<12} {what}: {f.share:.2f} < {f.threshold:.2f}")
    return failures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked (a bad value exits with a message that names the option)."""
    parser = argparse.ArgumentParser(prog="python -m morl_envs.robustness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--env", default="morl/Counsel-v2", help="registered environment id (its reward models)")
    parser.add_argument("--set", dest="sets", choices=(*SETS, "both", *EXTRA_SETS, "all"), default="both",
                        help="genuine set(s); both: pair + counsel; all: every set, judged on the pooled sets")
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--markdown", action="store_true", help="print the full markdown tables")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a threshold is missed")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generators")
    parser.add_argument("--data-dir", help="folder holding pair/pair.csv (default: $MORL_DATA_DIR)")
    parser.add_argument("--device", help="where the reward models run (default: the GPU if any)")
    parser.add_argument("--max-prompts", type=int, help="use only the first N prompts of each set (a quick look)")
    parser.add_argument("--weights", type=Path, action="append",
                        help="folder of retrained weights that replace the environment's (repeatable: averaged)")
    args = parser.parse_args(argv)
    if args.env not in env_ids("text"):
        parser.error(f"--env must be a registered text environment id {env_ids('text')}; got {args.env!r}."
                     f"{did_you_mean(args.env, env_ids('text'))}")
    if args.max_prompts is not None and args.max_prompts < 2:
        parser.error(f"--max-prompts must be at least 2 (the mismatched generator pairs prompts); "
                     f"got {args.max_prompts}")
    for folder in args.weights or ():
        if not folder.is_dir():
            parser.error(f"--weights must be a folder of retrained weights; got {str(folder)!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the suite on the chosen sets; returns the exit status."""
    args = parse_args(argv)
    names = {"both": SETS, "all": ALL_SETS}.get(args.sets, (args.sets,))
    chosen = load_sets(names, args.data_dir, args.max_prompts)
    env = make(args.env, **({"device": args.device} if args.device else {})).unwrapped
    scorers = dict(zip(env.objectives, env.reward_models))
    if args.weights:
        scorers.update(ensemble_models(args.weights, env.objectives, args.device))
    record = {"env_id": args.env, "objectives": list(env.objectives), "seed": args.seed,
              **({"weights": [str(w) for w in args.weights]} if args.weights else {}),
              "reward_model_fingerprints": {name: m.fingerprint() for name, m in scorers.items()},
              "thresholds": [t.__dict__ for t in THRESHOLDS], "sets": {}}
    results: dict[str, SuiteResult] = {}
    missed: dict[str, list] = {}
    for genuine_set in chosen:
        start = time.perf_counter()
        print(f"{genuine_set.name}: scoring {len(genuine_set.prompts)} prompts x 16 reply sets on "
              f"{', '.join(env.objectives)} ...", file=sys.stderr, flush=True)
        result = results[genuine_set.name] = run_suite(scorers, list(genuine_set.prompts),
                                                       list(genuine_set.genuine), seed=args.seed)
        seconds = time.perf_counter() - start
        record["sets"][genuine_set.name] = {
            "source": genuine_set.source, "fingerprint": genuine_set.fingerprint,
            "prompt_ids": list(genuine_set.prompt_ids), "seconds": round(seconds, 1),
            # example replies only from the project's own texts: third-party text (PAIR) is never shipped
            **result.to_dict(examples=0 if genuine_set.name in PAIR_REFLECTIONS else 3)}
        missed[genuine_set.name] = report(f"{args.env}, {genuine_set.name} set ({genuine_set.source}; "
                                          f"{seconds:.0f} s)", result, args.markdown)
    if args.sets == "all":  # the verdicts are the pooled sets'
        record["pools"], missed = {}, {}
        for pool, members in POOLS.items():
            parts = [results[m] for m in members if m in results]
            if parts:
                pooled = pool_results(parts)
                record["pools"][pool] = {"sets": [m for m in members if m in results], **pooled.to_dict(examples=0)}
                missed[pool] = report(f"{args.env}, {pool} (pooled: {' + '.join(record['pools'][pool]['sets'])})",
                                      pooled, args.markdown)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.out, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 1 if args.check and any(missed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
