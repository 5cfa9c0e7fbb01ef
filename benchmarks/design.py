"""Design choices decided on real recordings: `benchmarks/real.py` under each setting, side by side.

    python benchmarks/design.py                 # runs the variants missing from results/design/, writes results/design.json
    python benchmarks/design.py --only subtle   # variants whose name contains 'subtle'
    python benchmarks/design.py --report        # only rebuild design.json and its tables from results/design/*.json

Every variant is one `real.py` run with explicit overrides (its own json is kept in `results/design/NAME.json`, so a
variant already measured is not run again). Three groups:
- subtle: dead-code reset (`model.dead_after`) x subtypes per type (`model.n_bottom`) on the SUBTLE mice (train on the 9
  unlabelled animals, 2 seeds, measured on the 4 held-out labelled ones): top / motif NMI with the expert labels, MPJPE
  of the encoder's codes against block k-means, seed ARI of top codes; with and without the reset also on seeds 2 and 3;
  the codebook init (one k-means++ seeding vs the best of 8, `init8`) on both pairs of seeds, and with it the reset off
  (`init8_dead0`, both pairs, the current default) and with 2 subtypes per type (`init8_dead0_bottom2`, both pairs);
  and reconstruction checks: no 1 s context for the top level (`top0`), commitment weight 0.1 / 0.5, twice the
  training (`steps6000`), encoder and decoder twice as wide (`init8_width256`, 35 min), and with the current default
  half the velocity term (`init8_dead0_velocity0.5`) or a lower coarse term (`init8_dead0_coarse{1.5,2.0}`); the coarse
  term at full weight for the first half of training and lowered to 1.0 or 1.5 over the second (`init8_dead0_anneal*`,
  1.0 on both pairs of seeds: the current default, `model.coarse_final`); and, on the current default, the top level's
  context (`anneal1.0_top{1.5,2.0}`: `model.top_seconds`, default 1.0) and the code length (`anneal1.0_code{0.1,0.4}`:
  `model.code_seconds`, default 0.2); the residual hierarchy (`anneal1.0_residual`: `model.hierarchy`, default tree); and 10
  types x 2 subtypes (`anneal1.0_top10_bottom2`: `model.n_top` / `model.n_bottom`, the default's 20 motifs); the
  mirror-invariant top level off (`anneal1.0_asym`: `model.symmetric_top=false`; `anneal1.0_asym_mirror1`: with the soft
  mirror term instead, `model.mirror_weight=1.0`) and the coarse term's movement part off (`anneal1.0_motion0`:
  `model.coarse_motion=0`); 2 subtypes per type on the current default (`anneal1.0_bottom2`); and the fine term, each
  motif code predicting its own span's mirror-invariant features (`anneal1.0_fine{0.3,1,3}`, and `fine0.3_seeds23` on seeds 2 and 3: `model.fine_weight`, default
  0; `anneal1.0_fine1_bottom2` with 2 subtypes). A variant without a json in results/design/ is run by the
  next `python benchmarks/design.py --only NAME`.
  The table also gives the top codes' median bout (the target: within 2x of the labelled median).
- mouse34: training length (`--steps` 200, 400, 1000: 50, 100 and 250 passes over its 2,880 training frames) x dead-code
  reset on the stac-mjx mouse, the best-of-8 init with and without the reset (`steps400_dead{20,0}_init8`) and without
  it with the coarse schedule (`steps400_dead0_init8_anneal1.0`, the current default), 4 seeds, one run per seed:
  held-out MPJPE of the encoder's codes against block k-means.
- bandai: the best-of-8 init with and without the reset on the Bandai humans (`bandai_dead{0,20}_init8`, 2 seeds), and
  the current default with the reset (`bandai_dead20_init8_anneal1.0`; the default itself is real.json's Bandai part, seeds
  0 and 1, and `bandai_dead0_init8_anneal1.0_seeds23` on two more seeds):
  held-out clips' majority-top-code NMI with the action against k-means, per seed and mean.
Each run's own time is in its json (`seconds`): subtle variants took 9-16 min (`steps6000` 22), mouse34 runs 0.6-3 min on 2
shared CPU cores.
`subtle_dead0_bottom4.json` is the full `real.py` run of an earlier default (single init, no reset), all parts; the table reads
its subtle part, the same measurement as the subtle-only runs. Runs made before `train.max_epochs` existed record
`--steps` of 200 or 400, which that cap leaves unchanged.
Codebook init (`model.init_restarts` x `model.init_iters`): every run except `init8*` used one k-means++ seeding with 10
Lloyd iterations, the default when it ran (their json's `settings` do not name the keys, which did not exist yet; the
arguments here add them so a re-run reproduces the setting). The two `init8` runs measured the best-of-8 init (8 seedings
x 20 iterations) before it became a config key, with the same arithmetic, so their `settings` name no keys; they, and
the other runs that name no `model.dead_after`, had the reset on (20, the default then; the arguments name it). Every run
without `anneal` in its name kept the coarse weight constant (`model.coarse_final=null`, added to its arguments).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, table, write_json  # noqa: E402

DESIGN = RESULTS / "design"


def variants() -> dict[str, list[str]]:
    "{name: real.py arguments}."
    one = ["model.init_restarts=1", "model.init_iters=10"]   # the single k-means init every run before `init8` had
    reset = "model.dead_after=20"                              # the reset every run that does not name it had
    out = {}
    for dead, nb in ((0, 2), (0, 4), (20, 2), (20, 3), (20, 4)):
        out[f"subtle_dead{dead}_bottom{nb}"] = ["--parts", "subtle", "--set", f"model.dead_after={dead}", f"model.n_bottom={nb}", *one]
    out["subtle_dead20_bottom4_top0"] = ["--parts", "subtle", "--set", "model.dead_after=20", "model.n_bottom=4", "model.top_seconds=0", *one]
    for cw in (0.1, 0.5):
        out[f"subtle_commit{cw}"] = ["--parts", "subtle", "--set", f"model.commit_weight={cw}", reset, *one]
    out["subtle_steps6000"] = ["--parts", "subtle", "--steps", "6000", "--set", reset, *one]
    out["subtle_init8_dead0"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20", "model.dead_after=0"]
    out["subtle_init8_dead0_seeds23"] = ["--parts", "subtle", "--seeds", "2", "3", "--set", "model.init_restarts=8",
                                         "model.init_iters=20", "model.dead_after=0"]
    for seeds, suffix in ((["0", "1"], ""), (["2", "3"], "_seeds23")):   # the current default with 2 subtypes per type
        out[f"subtle_init8_dead0_bottom2{suffix}"] = ["--parts", "subtle", "--seeds", *seeds, "--set", "model.init_restarts=8",
                                                      "model.init_iters=20", "model.dead_after=0", "model.n_bottom=2"]
    for key, v in (("velocity_weight", 0.5), ("coarse_weight", 1.5), ("coarse_weight", 2.0)):   # the two other loss weights, lower
        out[f"subtle_init8_dead0_{key.split('_')[0]}{v}"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20",
                                                            "model.dead_after=0", f"model.{key}={v}"]
    for final in (1.0, 1.5):   # the coarse term at 3.0 while the top codes settle, then lowered over the second half
        out[f"subtle_init8_dead0_anneal{final}"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20",
                                                    "model.dead_after=0", f"model.coarse_final={final}"]
    out["subtle_init8_dead0_anneal1.0_seeds23"] = ["--parts", "subtle", "--seeds", "2", "3", "--set", "model.init_restarts=8",
                                                   "model.init_iters=20", "model.dead_after=0", "model.coarse_final=1.0"]
    out["subtle_init8_dead0_anneal1.0_fine0.3_seeds23"] = ["--parts", "subtle", "--seeds", "2", "3", "--set", "model.init_restarts=8",
                                                           "model.init_iters=20", "model.dead_after=0", "model.coarse_final=1.0",
                                                           "model.fine_weight=0.3"]
    for ts in (1.5, 2.0):   # the current default with a longer context for the top level (`model.top_seconds`, 1.0)
        out[f"subtle_init8_dead0_anneal1.0_top{ts}"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20",
                                                        "model.dead_after=0", "model.coarse_final=1.0", f"model.top_seconds={ts}"]
    for cs in (0.1, 0.4):   # the current default with shorter / longer codes (`model.code_seconds`, 0.2)
        out[f"subtle_init8_dead0_anneal1.0_code{cs}"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20",
                                                         "model.dead_after=0", "model.coarse_final=1.0", f"model.code_seconds={cs}"]
    out["subtle_init8_dead0_anneal1.0_residual"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20",
                                                    "model.dead_after=0", "model.coarse_final=1.0", "model.hierarchy=residual"]
    out["subtle_init8_dead0_anneal1.0_top10_bottom2"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20",
                                                         "model.dead_after=0", "model.coarse_final=1.0", "model.n_top=10", "model.n_bottom=2"]
    for name, extra in (("asym", ["model.symmetric_top=false"]), ("asym_mirror1", ["model.symmetric_top=false", "model.mirror_weight=1.0"]),
                        ("motion0", ["model.coarse_motion=0"]), ("bottom2", ["model.n_bottom=2"]),
                        ("fine0.3", ["model.fine_weight=0.3"]), ("fine1", ["model.fine_weight=1.0"]), ("fine3", ["model.fine_weight=3.0"]),
                        ("fine1_bottom2", ["model.fine_weight=1.0", "model.n_bottom=2"])):
        out[f"subtle_init8_dead0_anneal1.0_{name}"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20",
                                                       "model.dead_after=0", "model.coarse_final=1.0", *extra]
    out["subtle_init8_width256"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20", "model.width=256", reset]
    for dead in (0, 20):
        out[f"subtle_dead{dead}_bottom4_seeds23"] = ["--parts", "subtle", "--seeds", "2", "3", "--set", f"model.dead_after={dead}", "model.n_bottom=4", *one]
    out["subtle_init8"] = ["--parts", "subtle", "--set", "model.init_restarts=8", "model.init_iters=20", reset]
    out["subtle_init8_seeds23"] = ["--parts", "subtle", "--seeds", "2", "3", "--set", "model.init_restarts=8", "model.init_iters=20", reset]
    for dead in (0, 20):   # Bandai humans, the best-of-8 init with and without the reset, 2 seeds (the mean is the target's)
        out[f"bandai_dead{dead}_init8"] = ["--parts", "bandai", "--set", "model.init_restarts=8", "model.init_iters=20", f"model.dead_after={dead}"]
    out["bandai_dead0_init8_anneal1.0_seeds23"] = ["--parts", "bandai", "--seeds", "2", "3", "--set", "model.init_restarts=8",
                                                   "model.init_iters=20", "model.dead_after=0", "model.coarse_final=1.0"]   # the default
    out["bandai_dead20_init8_anneal1.0"] = ["--parts", "bandai", "--set", "model.init_restarts=8", "model.init_iters=20",
                                            "model.dead_after=20", "model.coarse_final=1.0"]   # the current default with the reset
    for steps in (200, 400, 1000):
        for dead in ((0, 20) if steps < 1000 else (20,)):
            for seed in range(4):
                out[f"mouse34_steps{steps}_dead{dead}_seed{seed}"] = ["--parts", "mouse34", "--seeds", str(seed), "--steps", str(steps),
                                                                      "--set", f"model.dead_after={dead}", "train.max_epochs=null", *one]
    for seed in range(4):   # the current default (max_epochs 100 gives 400 steps here, best-of-8 init), with and without the reset
        for dead in (0, 20):
            out[f"mouse34_steps400_dead{dead}_init8_seed{seed}"] = ["--parts", "mouse34", "--seeds", str(seed), "--set",
                                                                    "model.init_restarts=8", "model.init_iters=20", f"model.dead_after={dead}"]
        out[f"mouse34_steps400_dead0_init8_anneal1.0_seed{seed}"] = ["--parts", "mouse34", "--seeds", str(seed), "--set", "model.init_restarts=8",
                                                                    "model.init_iters=20", "model.dead_after=0", "model.coarse_final=1.0"]
    for args in out.values():   # every run before the coarse schedule had the weight constant
        if not any(x.startswith("model.coarse_final=") for x in args): args.append("model.coarse_final=null")
    return out


def mirror_changes(s: dict) -> float | None:
    "Mean over seeds of the share of labelled frames whose motif changes when the recording is mirrored (None: not measured)."
    v = [x["motif_sides_merged"]["changes_under_mirror"] for x in s["seeds"].values() if "motif_sides_merged" in x]
    return float(np.mean(v)) if len(v) == len(s["seeds"]) else None


def summary(runs: dict[str, dict]) -> dict:
    "The figures of each measured variant (subtle: one row per variant; mouse34: mean over seeds per setting)."
    subtle, mouse, bandai = {}, {}, {}
    for name, r in sorted(runs.items()):
        if name.startswith("subtle") and "subtle" in r:
            s, t = r["subtle"], r["targets"]
            km = s["baselines"]["kmeans_pose_velocity"]
            subtle[name] = {"seeds": [int(k) for k in s["seeds"]],
                            "top_nmi": t["subtle_top_nmi_vs_kmeans"]["value"], "motif_nmi": t["subtle_motif_nmi_vs_kmeans"]["value"],
                            "kmeans_top_nmi": km["top"]["nmi"], "kmeans_motif_nmi": km["motif"]["nmi"],
                            "mpjpe": t["subtle_mpjpe"]["value"], "block_kmeans_mpjpe": s["baselines"]["block_kmeans_mpjpe"],
                            "seed_ari_top": s.get("ari_top"), "seed_ari_motif": s.get("ari_motif"),
                            "motif_mirror_changes": mirror_changes(s), "median_bout_s": t["subtle_median_bout"]["value"],
                            "label_median_bout_s": s["label_bouts_s"][1]}
        elif name.startswith("bandai") and "bandai" in r:
            b = r["bandai"]
            bandai[name] = {"seeds": [int(k) for k in b["seeds"]], "nmi_majority_top": r["targets"]["bandai_action_nmi"]["value"],
                            "kmeans_nmi_majority_top": b["kmeans_pose_velocity"]["nmi_majority_top"],
                            "per_seed": {k: v["nmi_majority_top"] for k, v in b["seeds"].items()},
                            "kmeans_per_seed": {k: v["nmi_majority_top"] for k, v in b.get("kmeans_seeds", {}).items()}}
        elif name.startswith("mouse34") and "mouse34" in r:
            key = name.rsplit("_seed", 1)[0]
            for seed, v in r["mouse34"]["seeds"].items():
                mouse.setdefault(key, {})[int(seed)] = v
    m34 = {k: {"seeds": sorted(v), "mpjpe": float(np.mean([x["mpjpe"] for x in v.values()])),
               "block_kmeans_mpjpe": float(np.mean([x["block_kmeans_mpjpe"] for x in v.values()])),
               "per_seed": {str(s): v[s]["mpjpe"] for s in sorted(v)}} for k, v in mouse.items()}
    return {"subtle": subtle, "mouse34": m34, "bandai": bandai}


def opt(x, fmt: str) -> str: return "" if x is None else fmt.format(x)


def report(d: dict) -> str:
    "Markdown tables: the SUBTLE variants, the mouse34 training lengths and the Bandai reset check."
    out = []
    if d.get("subtle"):
        rows = [(k.removeprefix("subtle_"), ",".join(map(str, v["seeds"])), f"{v['top_nmi']:.3f} ({v['top_nmi'] / v['kmeans_top_nmi']:.2f}x)",
                 f"{v['motif_nmi']:.3f} ({v['motif_nmi'] / v['kmeans_motif_nmi']:.2f}x)",
                 f"{v['mpjpe']:.3f} / {v['block_kmeans_mpjpe']:.3f}", opt(v["seed_ari_top"], "{:.3f}"), opt(v.get("seed_ari_motif"), "{:.3f}"),
                 opt(v.get("motif_mirror_changes"), "{:.0%}"), f"{v['median_bout_s']:.2f}") for k, v in d["subtle"].items()]
        lab = next(iter(d["subtle"].values()))["label_median_bout_s"]
        out.append(table(rows, ("SUBTLE variant", "seeds", "top NMI (x k-means)", "motif NMI (x k-means)",
                                "MPJPE cm / block k-means", "seed ARI top", "seed ARI motif", "motifs changed by mirroring",
                                f"median top bout s (labels {lab:.2f})")))
    if d.get("mouse34"):
        rows = [(k.removeprefix("mouse34_"), ",".join(map(str, v["seeds"])), f"{v['mpjpe']:.3f}", f"{v['block_kmeans_mpjpe']:.3f}",
                 " / ".join(f"{x:.2f}" for x in v["per_seed"].values())) for k, v in d["mouse34"].items()]
        out.append(table(rows, ("mouse34 variant", "seeds", "MPJPE mm (mean)", "block k-means", "per seed")))
    if d.get("bandai"):
        rows = [(k.removeprefix("bandai_"), ",".join(map(str, v["seeds"])), f"{v['nmi_majority_top']:.3f}", f"{v['kmeans_nmi_majority_top']:.3f}",
                 " / ".join(f"{x:.3f}" for x in v["per_seed"].values()), " / ".join(f"{x:.3f}" for x in v["kmeans_per_seed"].values()))
                for k, v in d["bandai"].items()]
        out.append(table(rows, ("Bandai variant", "seeds", "majority-top NMI (mean)", "k-means (mean)", "per seed", "k-means per seed")))
    return "\n\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="run only variants whose name contains this")
    p.add_argument("--report", action="store_true", help="do not run anything; summarise what results/design/ holds")
    p.add_argument("--out", default=str(RESULTS / "design.json"))
    a = p.parse_args(argv)
    DESIGN.mkdir(parents=True, exist_ok=True)
    if not a.report:
        import real
        for name, args in variants().items():
            if a.only in name and not (DESIGN / f"{name}.json").exists():
                print(f"== {name}: real.py {' '.join(args)}", flush=True)
                real.main([*args, "--out", str(DESIGN / f"{name}.json")])
    runs = {p.stem: json.loads(p.read_text()) for p in sorted(DESIGN.glob("*.json")) if p.stem in variants()}
    d = {**summary(runs), "variants": {k: variants()[k] for k in runs}}
    print(report(d))
    write_json(d, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
