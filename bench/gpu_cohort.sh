#!/usr/bin/env bash
# The scoring issue's open step on one CUDA machine: a stronger encoder for the default synthetic
# cohort. Trains emoclip-tiny as bench_zeroshot.py's GPU run did (EPOCHS with flips, then EPOCHS
# more with --augment style from the best of the first), on IDENTITIES x 10 synthetic MAFW clips
# (bench_zeroshot.py used 500), while the cohort renders on the CPU; then leave-one-patient-out on
# the cohort with the new encoder (bench_cohort.py --device cuda), as docs/benchmarks.md reports
# for the earlier encoders. Nothing here is tuned on the cohort: the recipe is the earlier GPU
# run's with more clips.
# Usage, from anywhere:  bench/gpu_cohort.sh [WORK]   (default WORK=/tmp/emoclip_gpu_cohort)
# Environment: IDENTITIES (default 1000), EPOCHS (default 20 a phase), MODEL (emoclip-tiny),
#   DEVICE (cuda; cpu for a smoke run), COHORT (default WORK/cohort_default; rendered at the
#   world's defaults, seed 0, when it has no labels), LOADERS (data-loader processes, 6),
#   RENDERERS (cohort rendering processes, 8), PYTHON (python3; must import emoclip_clinic).
# Each step's output goes to WORK/logs/<step>.log; WORK/logs/progress.txt says where it is; the
# table is at the top of WORK/logs/cohort.log.
set -uo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/emoclip_gpu_cohort}
py=${PYTHON:-python3}
identities=${IDENTITIES:-1000}
epochs=${EPOCHS:-20}
model=${MODEL:-emoclip-tiny}
device=${DEVICE:-cuda}
cohort=${COHORT:-$work/cohort_default}
loaders=${LOADERS:-6}
renderers=${RENDERERS:-8}
export PYTHONUNBUFFERED=1
mkdir -p "$work/logs"
log() { echo "$(date +%T) $*" >>"$work/logs/progress.txt"; }
# Each step needs the one before: stop at the first that fails (its log says why).
step() { local name=$1 rc; shift; "$@" >"$work/logs/$name.log" 2>&1; rc=$?; log "$name rc=$rc"
         [ $rc -eq 0 ] || { log "stopped"; exit $rc; }; }
# Python from bench/ (bench_pretrain: the settings of bench_zeroshot.py's runs, and timed_run,
# which reuses a finished phase and continues an interrupted one).
bench() { $py -c "import logging, sys; sys.path.insert(0, 'bench'); from pathlib import Path; \
logging.basicConfig(level=logging.INFO); from bench_pretrain import make_data, timed_run; $1"; }

log "start: $identities identities, $epochs epochs a phase, $model on $device"
render=
if [ ! -f "$cohort/labels_panss.csv" ]; then
    $py -c "from pathlib import Path; from emoclip_clinic.synth.interviews import \
InterviewConfig, make_interviews; make_interviews(Path('$cohort'), InterviewConfig(), seed=0, \
workers=$renderers)" >"$work/logs/render_cohort.log" 2>&1 &
    render=$!
fi
step mafw bench "make_data(Path('$work/mafw'), $identities, $loaders)"
flip=$work/run_${model}_flip$epochs
style=$work/run_${model}_flip${epochs}+style$epochs
common="'$model', 0, $epochs, device='$device', workers=$loaders"
step pretrain_flip bench "timed_run(Path('$work/mafw'), Path('$flip'), $common)"
step pretrain_style bench "timed_run(Path('$work/mafw'), Path('$style'), $common, \
init=Path('$flip/best'), augment='style')"
if [ -n "$render" ]; then
    wait "$render"
    rc=$?
    log "render_cohort rc=$rc"
    [ $rc -eq 0 ] || { log "stopped"; exit $rc; }
fi
step cohort $py bench/bench_cohort.py --checkpoint "$style/best" --cohort "$cohort" \
    --device "$device" --embed-workers "$renderers" --out "$work/cohort_loocv"
log end
