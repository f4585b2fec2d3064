#!/bin/bash
# Stacked-MNIST recipe search on one GPU: several runs of benchmarks/images_stacked.py side by
# side (the DCGAN step is launch-bound, so 7-8 runs share an H100 well), each stopped after
# $T seconds; every run logs modes / KL every 2,500 steps to its metrics.jsonl.
# Results: docs/images.md (Stacked MNIST). Usage, from the repo root on a CUDA machine:
#     T=470 bash benchmarks/stacked_gpu_search.sh widths    # the first group (2026-11-25)
#     T=450 bash benchmarks/stacked_gpu_search.sh w128      # the second group
#     T=420 bash benchmarks/stacked_gpu_search.sh b128      # width 128 batch 128 variants (2026-11-26, H200)
#     T=420 RUN=runs/cpu-stacked/w128-b128-bf16 bash benchmarks/stacked_gpu_search.sh continue
#                                      # a CPU run continued on the GPU to 100k steps; DRS on its checkpoint
#     T=260 bash benchmarks/stacked_gpu_search.sh r1        # R1 at width 128: seeds, gamma, bf16
#     python3 -c "..." or grep '"eval"' /tmp/stk/*/*/metrics.jsonl      # the trajectories
set -u
OUTDIR=${OUTDIR:-/tmp/stk}; LOGS=${LOGS:-/tmp/stk/logs}; T=${T:-470}
mkdir -p "$LOGS"
M='eval.metrics=["stacked_modes"]'
W64="--set generator.width=64 --set discriminator.width=64"
W128="--set generator.width=128 --set discriminator.width=128"
B128="$W128 --set train.batch_size=128"
DEC="--set objective.lr_decay_final=0.01 --set objective.lr_decay_start=0.5"
EMA="--set objective.name=gan --set objective.ema=0.999 --set objective.ema_start=2000"
E="--set train.eval_every=2500"
run() {
    v=$1; shift
    timeout "$T" python3 benchmarks/images_stacked.py --out "$OUTDIR/$v" --img "$OUTDIR/img_$v" \
        --set train.device=cuda --set "$M" --set train.checkpoint_every=100000 "$@" > "$LOGS/$v.log" 2>&1 &
}
case "${1:-widths}" in
widths)
    run w64 --steps 60000 --variants dcgan $W64 $E
    run w64-ema --steps 60000 --variants dcgan $W64 $EMA $E
    run w64-b256 --steps 60000 --variants dcgan $W64 --set train.batch_size=256 $E
    run w128 --steps 60000 --variants dcgan $W128 $E
    run w64-pack2 --steps 60000 --variants pacdcgan2 $W64 $E
    run w64-dec12 --steps 12000 --variants dcgan $W64 --set objective.name=gan $DEC --set train.eval_every=2000
    run w64-dec12-drs --steps 12000 --variants dcgan $W64 --set objective.name=gan $DEC --set objective.drs=true \
        --set train.eval_every=12000
    run w32-ema --steps 60000 --variants dcgan $EMA $E
    ;;
w128)
    run w128-s1 --steps 60000 --variants dcgan $W128 --seed 1 $E
    run w128-s2 --steps 60000 --variants dcgan $W128 --seed 2 $E
    run w128-b128 --steps 60000 --variants dcgan $W128 --set train.batch_size=128 $E
    run w128-sn --steps 60000 --variants dcgan $W128 --set objective.name=gan --set objective.spectral_norm=true \
        --set discriminator.norm=none $E
    run w128-ttur --steps 60000 --variants dcgan $W128 --set optim_d.lr=4e-4 --set optim_g.lr=1e-4 $E
    run w128-drs --steps 30000 --variants dcgan $W128 --set objective.name=gan --set objective.drs=true \
        --set objective.drs_steps=2000 --set train.eval_every=10000
    run w192 --steps 60000 --variants dcgan --set generator.width=192 --set discriminator.width=192 $E
    ;;
b128)
    run b128-ema --steps 60000 --variants dcgan $B128 --set objective.ema=0.999 --set objective.ema_start=2000 $E
    run b128-hinge --steps 60000 --variants dcgan $B128 --set loss.name=hinge $E
    run b128-r1 --steps 60000 --variants dcgan $B128 --set objective.r1=1.0 $E
    run b256 --steps 60000 --variants dcgan $W128 --set train.batch_size=256 $E
    run b128-beta0 --steps 60000 --variants dcgan $B128 --set 'optim_d.betas=[0.0,0.99]' --set 'optim_g.betas=[0.0,0.99]' $E
    run b128-lr3 --steps 60000 --variants dcgan $B128 --set optim_d.lr=3e-4 --set optim_g.lr=3e-4 $E
    ;;
continue)   # RUN: a run folder (trained anywhere); copies of it are continued / rejection-sampled here
    : "${RUN:?set RUN=a run folder to continue, e.g. RUN=runs/cpu-stacked/w128-b128-bf16}"
    mkdir -p "$OUTDIR"
    cp -r "$RUN" "$OUTDIR/resume"
    timeout "$T" python3 -m gankit train --resume --out "$OUTDIR/resume" --set train.device=cuda \
        --set train.steps=100000 $E --set train.checkpoint_every=100000 --set train.sample_every=100000 \
        > "$LOGS/resume.log" 2>&1 &
    for q in 0.99 0.95; do
        cp -r "$RUN" "$OUTDIR/drs-q$q"
        sed -i 's/device = "cpu"/device = "cuda"/' "$OUTDIR/drs-q$q/config.toml"
        (timeout "$T" python3 -m gankit drs "$OUTDIR/drs-q$q" --steps 2000 --quantile $q &&
         timeout "$T" python3 -m gankit eval "$OUTDIR/drs-q$q" --metrics stacked_modes --json) > "$LOGS/drs-q$q.log" 2>&1 &
    done
    ;;
r1)
    run r1-s1 --steps 60000 --variants dcgan $B128 --set objective.r1=1.0 --seed 1 $E
    run r1-s2 --steps 60000 --variants dcgan $B128 --set objective.r1=1.0 --seed 2 $E
    run r1g2 --steps 60000 --variants dcgan $B128 --set objective.r1=2.0 $E
    run r1g5 --steps 60000 --variants dcgan $B128 --set objective.r1=5.0 $E
    run r1-bf16 --steps 60000 --variants dcgan $B128 --set objective.r1=1.0 --set train.precision=bf16 $E
    ;;
*) echo "usage: $0 widths|w128|b128|continue|r1" >&2; exit 2 ;;
esac
wait
for f in "$OUTDIR"/*/metrics.jsonl "$OUTDIR"/*/*/metrics.jsonl; do
    [ -f "$f" ] || continue
    echo "== $f"
    grep '"eval"' "$f" | python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l); print(r["step"], r["stacked_modes"], round(r["stacked_kl"], 3), round(r["stacked_channel_kl"], 3))'
done
