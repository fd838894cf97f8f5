#!/usr/bin/env bash
# The GPU checks of the device path in one short run, for a borrowed GPU machine:
#   benchmarks/device_checks.sh DATASET [WHEELS_DIR]
# DATASET: a built dataset at 1024² (e.g. `synth build recipes/portrait.yaml -o DIR --set
# splits.0.samples=48`, about 33 MB); WHEELS_DIR: wheels the machine lacks (pydantic,
# simplejpeg ...; `pip download` them beside the repo for its Python), installed into
# /tmp/site without network. Runs the CUDA tests of the device path, then
# bench_loader_device.py with 16 workers (CPU loader with and without the batch pool, device path without and with the
# background stage; then with fg and bg decoded in the workers). Writes DEVICE_OUT (default $OUT, else /tmp/device_checks)/bench.json.
set -euo pipefail
data=${1:?usage: benchmarks/device_checks.sh DATASET [WHEELS_DIR]}
wheels=${2:-}
out=${DEVICE_OUT:-${OUT:-/tmp/device_checks}}
mkdir -p "$out"
if [[ -n "$wheels" ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$wheels"/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())"
python3 -m pytest -q -p no:cacheprovider tests/test_shards_device_stage.py tests/test_shards_device_ops.py \
  tests/test_shards_device_prefetch.py 2>&1 | tail -3 || echo "device tests FAILED (above); benchmarking anyway"
python3 benchmarks/bench_loader_device.py "$data" --workers 16 --batches 50 --warmup 8 --replicate 30 \
  --prefetch 0 1 --json "$out/bench.json"
# fg and bg decoded by the workers: less nvJPEG Huffman work in the main process
python3 benchmarks/bench_loader_device.py "$data" --workers 16 --batches 50 --warmup 8 --replicate 30 \
  --prefetch 1 --device-decode image --json "$out/bench_decode_image.json"
