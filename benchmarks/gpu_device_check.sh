#!/usr/bin/env bash
# Issues 8 and 19 on a lent GPU (H100 / H200) in ONE device command.
# Issue 8: MAE ViT-B/16, 224 px, bf16 (--amp), batch $BATCH: pixpretrain
# eager and torch.compile'd, mmpretrain 1.2.0 eager on the same GPU
# (mmengine's AmpOptimWrapper, bf16), alternating; images/s, step time, peak
# memory, GFLOP/image and MFU; and each toolbox's JPEG data loader with all
# CPU cores, to see whether it could feed the GPU.
# Issue 19: iGPT-L training steps sharded with FSDP2 over the machine's
# GPUs, with activation checkpointing (fsdp-igpt-l-cp) and without
# (fsdp-igpt-l): peak memory per GPU and step time, beside the memory
# formula's prediction (benchmarks/fsdp_gpu_step.py).
#
# Prepare here (pip reaches PyPI from this machine, not from the GPU one):
#     bash benchmarks/gpu_wheels.sh                 # fills .whl (~3 MiB)
#     DRY_RUN=1 bash benchmarks/gpu_device_check.sh # every piece, tiny, CPU
# Then the device call:
#     run(command="bash benchmarks/gpu_device_check.sh",
#         carry=[".whl"], timeout_s=560)
# Results come back in $OUT: summary.md (also printed last), results.json
# (every run's figures, the machine, the settings), log.txt (all output).
#
# Data: the timed training steps replay PRELOAD batches that went through
# each toolbox's own JPEG pipeline once and stay in host memory (pinned where
# the toolbox's config pins), so each step still pays its toolbox's copy to
# the GPU and normalisation, but not JPEG decoding: 16 cores cannot be
# assumed to decode the ~6000 images/s the GPU may take. The loader pieces
# measure that decoding apart.
#
# Time: each piece runs under `timeout` with its own limit (T_* below), cut
# to what is left of BUDGET_S (counted from the script's start); a piece
# that would get less than MIN_PIECE_S is skipped and says so. Expected on an
# H200: set-up ~30 s, each eager run ~40 s, each loader ~20 s, the compiled
# run 1.5-3 min, each iGPT-L run ~45 s (building 1.4B parameters, a warm-up
# and 3 timed steps of ~1 s); about 6.5 minutes in all, never more than
# BUDGET_S + ~35 s (a kill grace, a last nvidia-smi query, the summary).
# PIECES picks the measurements (e.g. a rerun of only the compiled one:
# PIECES=model-pix-compile-1 bash benchmarks/gpu_device_check.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

DRY_RUN=${DRY_RUN:-0}
PY=${PY:-python3}
if [[ $DRY_RUN == 1 ]]; then
  # The same steps with a tiny load on this machine's CPU: catches syntax
  # and plumbing errors before they cost device time.
  : "${DEVICE:=cpu}" "${ARCH:=s}" "${BATCH:=2}" "${ITERS:=1}" "${WARMUP:=1}"
  : "${COMPILE_WARMUP:=1}" "${COMPILE_BACKEND:=eager}" "${PRELOAD:=2}"
  : "${PRELOAD_WORKERS:=0}" "${LOADER_WORKERS:=1}" "${LOADER_WARMUP:=1}"
  : "${LOADER_BATCHES:=2}" "${MATMUL_N:=256}" "${THREADS:=1}"
  : "${BUDGET_S:=900}" "${MIN_PIECE_S:=10}"
  # A nano iGPT on two gloo CPU ranks: the FSDP2 plumbing, not iGPT-L.
  : "${FSDP_ARCH:=nano}" "${FSDP_BATCH:=2}" "${FSDP_STEPS:=1}" "${NPROC:=2}"
  # Packages the GPU image has but this machine's python may lack (e.g.
  # markdown, which mmpretrain's model-index imports): from the CPU side by
  # side's mmpretrain folder (benchmarks/peer_envs.py), searched after the
  # carried wheels.
  : "${FALLBACK_PATH:=$HOME/.cache/pixpretrain/mmpretrain-1.2.0}"
else
  : "${DEVICE:=cuda}" "${ARCH:=b}" "${BATCH:=256}" "${ITERS:=40}"
  : "${WARMUP:=10}" "${COMPILE_WARMUP:=10}" "${COMPILE_BACKEND:=inductor}"
  : "${PRELOAD:=2}" "${PRELOAD_WORKERS:=8}" "${LOADER_WORKERS:=$(nproc)}"
  : "${LOADER_WARMUP:=$LOADER_WORKERS}"
  : "${LOADER_BATCHES:=$((3 * LOADER_WORKERS))}" "${MATMUL_N:=8192}"
  : "${THREADS:=}" "${BUDGET_S:=500}" "${MIN_PIECE_S:=45}"
  : "${FSDP_ARCH:=}" "${FSDP_BATCH:=16}" "${FSDP_STEPS:=3}"
  # One process per GPU (this workplace lends one).
  : "${NPROC:=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')}"
  ((NPROC > 0)) || NPROC=1
fi
: "${PRECISION:=bf16}"
# Time limits per piece, seconds (each is also cut to the budget left).
: "${T_INSTALL:=90}" "${T_ENV:=60}" "${T_DATA:=60}" "${T_EAGER:=120}"
: "${T_COMPILE:=240}" "${T_LOADER:=90}" "${T_FSDP:=150}"
# iGPT-L's recipe (FSDP2Strategy; its bf16 autocast, Adam and clipping).
: "${FSDP_CONFIG:=configs/igpt/igpt-l_ar_imagenet-32.py}" "${FSDP_WARMUP:=1}"
# Measurements, in order: iGPT-L sharded with checkpointing (issue 19's
# item), round 1 pix then mm, the loaders, the compiled step, round 2 mm
# then pix, iGPT-L sharded without checkpointing (the formula's activation
# term on a GPU). Add model-mm-compile-1 for mmpretrain compiled.
: "${PIECES:=fsdp-igpt-l-cp model-pix-eager-1 model-mm-eager-1 loader-pix \
loader-mm model-pix-compile-1 model-mm-eager-2 model-pix-eager-2 fsdp-igpt-l}"
: "${IMAGES:=$(((PRELOAD + 1) * BATCH))}"

if [[ -z "${OUT:-}" ]]; then
  OUT=$(mktemp -d /tmp/gpu-check-out.XXXXXX)
fi
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)  # images, per-run JSON, site
trap 'rm -rf "$WORK"' EXIT
RUNS=$WORK/runs DATA=$WORK/images
mkdir -p "$RUNS" "$DATA"
: "${SITE:=$([[ $DRY_RUN == 1 ]] && echo "$WORK/site" || echo /tmp/site)}"
export PYTHONUNBUFFERED=1

log() { printf '[%4d s] %s\n' "$SECONDS" "$*"; }

summary() {  # refresh $OUT/results.json and summary.md after every piece
  "$PY" benchmarks/gpu_check.py summary "$RUNS" --json "$OUT/results.json" \
    --md "$OUT/summary.md" "$@"
}

# run_piece NAME LIMIT_S CMD...: CMD under `timeout`, cut to the budget left;
# its exit status (124: ran out of time) or 'skipped' goes to pieces.tsv.
run_piece() {
  local name=$1 limit=$2 left start rc
  shift 2
  left=$((BUDGET_S - SECONDS))
  if ((left < limit)); then
    # Cut to the budget; skipped where too little of it is left to finish.
    if ((left < MIN_PIECE_S)); then
      log "== $name skipped: ${left} s of the ${BUDGET_S} s budget left"
      printf '%s\tskipped\t0\t(%s s of the budget left)\n' "$name" \
        "$left" >>"$RUNS/pieces.tsv"
      return 1
    fi
    limit=$left
  fi
  log "== $name (at most $limit s)"
  start=$SECONDS
  timeout -k 10 "$limit" "$@"
  rc=$?
  log "== $name: exit $rc after $((SECONDS - start)) s"
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" \
    "$( ((rc == 124)) && echo "(time limit $limit s)")" >>"$RUNS/pieces.tsv"
  summary --quiet || true
  return $rc
}

# One measurement of benchmarks/mmpretrain_side_by_side.py in a fresh
# process (an array, not a function: `timeout` runs programs only).
WORKER=("$PY" benchmarks/mmpretrain_side_by_side.py --device "$DEVICE"
  --arch "$ARCH" --precision "$PRECISION" --batch-size "$BATCH"
  --data-root "$DATA" ${THREADS:+--threads "$THREADS"})

model_piece() {  # NAME = model-<pix|mm>-<eager|compile>-<round>
  local name=$1 toolbox mode limit=$T_EAGER warmup=$WARMUP extra=()
  IFS=- read -r _ toolbox mode _ <<<"$name"
  if [[ $mode == compile ]]; then
    limit=$T_COMPILE warmup=$COMPILE_WARMUP
    extra=(--compile --compile-backend "$COMPILE_BACKEND")
  fi
  run_piece "$name" "$limit" "${WORKER[@]}" --worker "$toolbox" --task model \
    --num-workers "$PRELOAD_WORKERS" --preload "$PRELOAD" \
    --iters "$ITERS" --warmup "$warmup" --out "$RUNS/$name.json" \
    "${extra[@]}"
}

loader_piece() {  # NAME = loader-<pix|mm>
  run_piece "$1" "$T_LOADER" "${WORKER[@]}" --worker "${1#loader-}" \
    --task loader \
    --num-workers "$LOADER_WORKERS" --warmup "$LOADER_WARMUP" \
    --iters "$LOADER_BATCHES" --out "$RUNS/$1.json"
}

fsdp_piece() {  # NAME = fsdp-igpt-l[-cp]: one process per GPU
  run_piece "$1" "$T_FSDP" "$PY" -m torch.distributed.run --standalone \
    --nproc_per_node="$NPROC" benchmarks/fsdp_gpu_step.py \
    --config "$FSDP_CONFIG" ${FSDP_ARCH:+--arch "$FSDP_ARCH"} \
    --batch "$FSDP_BATCH" --warmup "$FSDP_WARMUP" --steps "$FSDP_STEPS" \
    $([[ $1 == *-cp ]] && echo --with-cp) --out "$RUNS/$1.json"
}

main() {
  # ---------------------------------------------------------------- set-up
  log "gpu_device_check: DRY_RUN=$DRY_RUN DEVICE=$DEVICE ARCH=$ARCH" \
    "BATCH=$BATCH PRECISION=$PRECISION ITERS=$ITERS WARMUP=$WARMUP" \
    "PRELOAD=$PRELOAD BUDGET_S=$BUDGET_S OUT=$OUT"
  log "pieces: $PIECES"
  git -C "$REPO" log -1 --format='commit %h %s' 2>/dev/null ||
    log "(no git history here)"
  for name in $PIECES; do
    [[ $name =~ ^(model-(pix|mm)-(eager|compile)-[0-9]+|loader-(pix|mm)|fsdp-igpt-l(-cp)?)$ ]] ||
      { log "unknown piece $name"; exit 2; }
  done
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    log "no wheels in .whl: run 'bash benchmarks/gpu_wheels.sh' first and" \
      "carry .whl"
    exit 2
  fi
  log "installing $(ls .whl/*.whl | wc -l) wheels into $SITE"
  timeout "$T_INSTALL" "$PY" -m pip install -q --no-index --no-deps \
    --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl ||
    { log "pip install failed"; exit 1; }
  export PYTHONPATH=$SITE:$REPO${FALLBACK_PATH:+:$FALLBACK_PATH}
  log "PYTHONPATH=$PYTHONPATH"

  SETTINGS=(DRY_RUN DEVICE ARCH BATCH PRECISION ITERS WARMUP COMPILE_WARMUP
    COMPILE_BACKEND PRELOAD PRELOAD_WORKERS LOADER_WORKERS LOADER_WARMUP
    LOADER_BATCHES IMAGES THREADS BUDGET_S MIN_PIECE_S T_INSTALL T_ENV T_DATA
    T_EAGER T_COMPILE T_LOADER T_FSDP FSDP_CONFIG FSDP_ARCH FSDP_BATCH
    FSDP_WARMUP FSDP_STEPS NPROC PIECES)
  export "${SETTINGS[@]}"
  "$PY" -c 'import json, os, sys; json.dump({k.lower(): os.environ[k]
    for k in sys.argv[2:]}, open(sys.argv[1], "w"), indent=1)' \
    "$RUNS/settings.json" "${SETTINGS[@]}"

  if command -v nvidia-smi >/dev/null; then
    # Read-only queries: the card's settings are left as they are.
    timeout 20 nvidia-smi
    fields=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit
    timeout 20 nvidia-smi --query-gpu="$fields,temperature.gpu" --format=csv
  else
    log "no nvidia-smi on this machine"
  fi
  run_piece env "$T_ENV" "$PY" benchmarks/gpu_check.py env \
    --json "$RUNS/env.json" --matmul-n "$MATMUL_N"
  run_piece data "$T_DATA" "$PY" benchmarks/gpu_check.py data "$DATA" \
    "$IMAGES" || { log "no images, nothing to measure"; summary; exit 1; }

  # ---------------------------------------------------------------- measure
  for name in $PIECES; do
    case $name in
      model-*) model_piece "$name" ;;
      loader-*) loader_piece "$name" ;;
      fsdp-*) fsdp_piece "$name" ;;
    esac
  done

  if command -v nvidia-smi >/dev/null; then
    fields=clocks.sm,clocks.max.sm,power.draw,temperature.gpu
    timeout 20 nvidia-smi --query-gpu="$fields" --format=csv
  fi
  log "done; the results are in $OUT"
  echo
  summary
}

# Everything to the log and to stdout (the device tool returns the end of
# stdout: the summary); a pipeline, so the script ends after tee has written.
main 2>&1 | tee -a "$OUT/log.txt"
exit "${PIPESTATUS[0]}"
