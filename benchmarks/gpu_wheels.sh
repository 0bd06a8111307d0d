#!/usr/bin/env bash
# Fill .whl with the wheels benchmarks/gpu_device_check.sh installs on the
# GPU machine, which has python 3.12 with torch, torchvision, numpy, opencv,
# matplotlib, rich, einops, pyyaml ... but no mmengine, mmcv or mmpretrain,
# and no network:
#   * mmengine, mmcv-lite, addict, yapf, termcolor, platformdirs through the
#     workplace's ../shared/device/wheels.sh (its pins);
#   * mmpretrain 1.2.0 and the packages it imports at start-up that the
#     machine lacks (the versions the CPU side by side runs with).
# Then checks that every requirement of every wheel (for python 3.12 on
# x86-64 Linux) is a wheel here or a package the machine has, that no
# package comes twice (pip refuses the whole install then), and the size.
#
# Run from anywhere:  bash benchmarks/gpu_wheels.sh
# Then carry [".whl"] in the device call (see gpu_device_check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SHARED=${SHARED_WHEELS:-$REPO/../shared/device/wheels.sh}
EXTRA=(mmpretrain==1.2.0 mat4py==0.6.0 model-index==0.1.11 ordered-set==4.1.0
  importlib-metadata==10.2.0 lazy-importer==0.1.0)
MAX_MIB=32  # the device call carries at most 64 MiB with the working tree

# .whl must never be committed nor travel uncarried: ignore it in the
# repository's own exclude file (shared by its worktrees).
common=$(git rev-parse --path-format=absolute --git-common-dir)
mkdir -p "$common/info"
grep -qx '/.whl/' "$common/info/exclude" 2>/dev/null ||
  echo '/.whl/' >>"$common/info/exclude"

[[ -f $SHARED ]] || { echo "missing $SHARED" >&2; exit 1; }
# wheels.sh writes .whl and .git/info/exclude under its working directory;
# in a worktree .git is a file, so it runs in a scratch folder instead.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/.git/info"
(cd "$scratch" && bash "$SHARED" "${EXTRA[@]}" >/dev/null)
# Start clean: a wheel left from an earlier version would be a duplicate.
mkdir -p .whl
rm -f .whl/*.whl
mv "$scratch"/.whl/*.whl .whl/

python3 - .whl <<'EOF'
"""Every requirement met by a carried wheel or the device image."""
import re
import sys
import zipfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

# The GPU image's Python packages (/work/.library/device/KINDS.md, read
# 2026-11-17; that page lists names only).
DEVICE = set('''absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal
annotated-doc anyio attrs botorch build certifi charset-normalizer chex click
cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops
equinox etils execnet filelock flatbuffers flax fonttools formulaic frozenlist
fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt
jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader
lightning lightning-utilities linear-operator lineax llvmlite lxml markdown
markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath
msgpack multidict multipledispatch mypy-extensions nanobind narwhals networkx
ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti
nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft
nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse
nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink
nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy
portalocker prometheus-client propcache protobuf psutil pyarrow pybind11
py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest
pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist
python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu
safetensors scikit-build-core scikit-image scikit-learn scipy seaborn
sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm
tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics
torchvision tqdm transformers treescope triton typer typing-extensions
typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray
xxhash yarl zipp'''.split())
# Requirements met under another distribution name: mmcv-lite's
# opencv-python by the image's headless build of the same module (cv2);
# mmpretrain's 'modelindex' is published as model-index (module modelindex).
# pip would count neither, but wheels here install with --no-deps.
SAME_MODULE = {'opencv-python': 'opencv-python-headless',
               'modelindex': 'model-index'}


def norm(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()


env = default_environment()
env.update(python_version='3.12', python_full_version='3.12.3',
           sys_platform='linux', platform_system='Linux',
           platform_machine='x86_64', implementation_name='cpython',
           platform_python_implementation='CPython', extra='')
wheels = sorted(Path(sys.argv[1]).glob('*.whl'))
names = [norm(w.name.split('-')[0]) for w in wheels]
twice = {n for n in names if names.count(n) > 1}
missing = []
for wheel, name in zip(wheels, names):
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist()
                    if n.endswith('.dist-info/METADATA'))
        lines = z.read(meta).decode().splitlines()
    for line in lines:
        if not line.startswith('Requires-Dist:'):
            continue
        req = Requirement(line.split(':', 1)[1].strip())
        if req.marker and not req.marker.evaluate(env):
            continue  # an extra, or another python / platform
        need = SAME_MODULE.get(norm(req.name), norm(req.name))
        if need in names or need in DEVICE:
            continue
        missing.append(f'{name} needs {req}')
for wheel in wheels:
    print(f'  {wheel.name}')
if twice:
    sys.exit(f'two versions of: {sorted(twice)}')
if missing:
    sys.exit('not on the device and not carried:\n  ' + '\n  '.join(missing))
print(f'{len(wheels)} wheels; every requirement is carried or on the device')
EOF

kib=$(du -sk .whl | cut -f1)
echo ".whl: $((kib / 1024)) MiB ($kib KiB)"
((kib < MAX_MIB * 1024)) || { echo "over $MAX_MIB MiB" >&2; exit 1; }
