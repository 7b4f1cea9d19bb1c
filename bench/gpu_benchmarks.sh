#!/usr/bin/env bash
# The GPU rows of docs/benchmarks.md, one after another on one CUDA machine (on an H100 with 16
# cores the first two steps took 9 minutes; the third was cut off after 6, with 3 of its 4
# training phases done):
#   1. bench_pretrain.py: emoclip-vit-b-32 (random init) pretraining throughput, 3 minutes,
#      while a 10-minute synthetic interview renders on one core;
#   2. bench_embed.py on that interview with emoclip-vit-b-32, then emoclip-tiny (bf16, 32 clips
#      per batch);
#   3. bench_zeroshot.py with emoclip-tiny and its frame-ensemble baseline trained on the GPU
#      (20 epochs with flips, then 20 with --augment style), evaluated there;
#   4. bench_loocv.py at ViT-B/32's d = 512 with the heads trained on the GPU, fp32 and bf16
#      (not run yet: added after the last lease; minutes on 2 CPU cores).
# Usage, from anywhere:  bench/gpu_benchmarks.sh [WORK]   (default WORK=/tmp/emoclip_gpu)
# Each step's output goes to WORK/logs/<step>.log; WORK/logs/progress.txt says where it is.
# PYTHON (default python3) must import emoclip_clinic and its dependencies.
set -uo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/emoclip_gpu}
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$work/logs"
log() { echo "$(date +%T) $*" >>"$work/logs/progress.txt"; }

log start
(cd bench && $py -c "from pathlib import Path; from bench_embed import _make_recording; \
_make_recording(Path('$work/interview'), 10)") >"$work/logs/render.log" 2>&1 &
render=$!
$py bench/bench_pretrain.py --model emoclip-vit-b-32 --device cuda --minutes 3 --workers 12 \
    --work "$work" >"$work/logs/pretrain_vit.log" 2>&1
log "pretrain emoclip-vit-b-32 rc=$?"
wait $render
log "render rc=$?"
for model in emoclip-vit-b-32 emoclip-tiny; do
    $py bench/bench_embed.py --minutes 10 --keep "$work/interview" --model $model --device cuda \
        --batch-clips 32 >"$work/logs/embed_$model.log" 2>&1
    log "embed $model rc=$?"
done
$py bench/bench_zeroshot.py --device cuda --workers 12 --epochs 20 --then-epochs 20 --no-minilm \
    --n-boot 500 --work "$work" >"$work/logs/zeroshot.log" 2>&1
log "zeroshot rc=$?"
for precision in fp32 bf16; do
    $py bench/bench_loocv.py --dim 512 --device cuda --head-precision $precision \
        >"$work/logs/loocv_$precision.log" 2>&1
    log "loocv $precision rc=$?"
done
log end
