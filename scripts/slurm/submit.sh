#!/usr/bin/env bash
# Run the bench matrix on a Slurm cluster: a job array with one task per shard (each runs `pnpm bench` on its slice
# of the checkpoint x EP matrix, its CSV into a shared results folder), then a merge job that starts when every
# task has ended, ok or not: it merges the shards, names the cells that have no rows (exit 1) and regenerates docs/.
# Run it from a checkout on a filesystem the compute nodes share, after `pnpm install`. See docs/cluster.md.
set -euo pipefail

usage() {
  cat >&2 <<'USAGE'
usage: scripts/slurm/submit.sh [options] -- <pnpm bench arguments>
  --shards N        array tasks, one shard each (default 4)
  --results DIR     shared folder for the shards' CSVs and plan (default: results/ of this checkout)
  --run-id ID       run id the shards share (default: slurm-<array job id>)
  --logs DIR        the jobs' output files (default: slurm-logs/ of this checkout)
  --sbatch "OPTS"   more sbatch options for the array tasks, e.g. "--partition=gpu --gres=gpu:1 --time=2:00:00 --cpus-per-task=8"
  --no-docs         merge only; leave docs/ alone
example: scripts/slurm/submit.sh --shards 8 -- --model all --ep cpu,wasm
USAGE
}

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shards=4 results="$repo/results" run="" logs="$repo/slurm-logs" extra="" docs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards="${2:?--shards needs a number}"; shift 2 ;;
    --results) results="${2:?--results needs a folder}"; shift 2 ;;
    --run-id) run="${2:?--run-id needs an id}"; shift 2 ;;
    --logs) logs="${2:?--logs needs a folder}"; shift 2 ;;
    --sbatch) extra="${2?--sbatch needs options}"; shift 2 ;;
    --no-docs) docs=0; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) echo "error: unknown option $1 (bench arguments go after --)" >&2; usage; exit 2 ;;
  esac
done
if [ $# -eq 0 ]; then echo "error: no bench arguments: put them after --, e.g. -- --model all" >&2; usage; exit 2; fi
if ! [[ "$shards" =~ ^[1-9][0-9]*$ ]]; then echo "error: --shards $shards: must be a positive integer, e.g. --shards 4" >&2; exit 2; fi
for a in "$@"; do
  case "$a" in --shard | --shard=* | --out | --out=* | --resume | --resume=*)
    echo "error: $a is set by this script (the shard from the array, --out from --results); remove it from the bench arguments" >&2; exit 2 ;;
  esac
done
if ! command -v sbatch >/dev/null; then echo "error: sbatch not found: run this where Slurm's client commands are (a login node)" >&2; exit 2; fi
mkdir -p "$results" "$logs"
results="$(cd "$results" && pwd)" logs="$(cd "$logs" && pwd)"

# shellcheck disable=SC2086 # $extra is a list of sbatch options
array=$(sbatch --parsable --array="0-$((shards - 1))" --chdir="$repo" --output="$logs/%x-%A_%a.out" $extra \
  "$repo/scripts/slurm/bench-array.sbatch" --out "$results" ${run:+--run-id "$run"} "$@")
array="${array%%;*}" # --parsable prints "id" or "id;cluster"
run="${run:-slurm-$array}"
merge=$(sbatch --parsable --dependency="afterany:$array" --chdir="$repo" --output="$logs/%x-%j.out" \
  "$repo/scripts/slurm/merge.sbatch" "$results" "$run" "$docs")
merge="${merge%%;*}"

echo "submitted: array job $array ($shards shards of: pnpm bench $*), merge job $merge after it" >&2
echo "run $run: shard CSVs and plan in $results, job output in $logs; watch with: squeue -j $array,$merge" >&2
echo "array=$array merge=$merge run=$run"
