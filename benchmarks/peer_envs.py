"""The peers' packages (mmpretrain 1.2.0, OpenCLIP), installed beside this
environment for the side-by-side benchmarks and the converter's tests.

Each peer goes into its own folder with ``pip install --target`` and no
dependencies, and runs in a child of *this* interpreter with that folder on
``PYTHONPATH``: the child sees the running environment's torch, mmengine and
mmcv-lite whether that is a virtual environment or the base interpreter.
(A ``venv --system-site-packages`` made from inside a virtual environment
sees the base interpreter's packages instead, where mmcv may be missing.)
mmpretrain's own requirements would replace mmcv-lite with mmcv and its
compiled ops, hence ``--no-deps`` and the pure-python packages listed here,
found by importing until nothing was missing.
"""
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List

CACHE = osp.join(osp.expanduser('~'), '.cache', 'pixpretrain')
# The CIFAR-10 image folder the benchmarks read by default
# (../shared/data/get_cifar10.sh unpacks it there).
CIFAR = osp.join(CACHE, 'cifar10')
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

PEERS: Dict[str, dict] = {
    'mmpretrain': dict(
        folder='mmpretrain-1.2.0',
        packages=['mmpretrain==1.2.0', 'einops==0.8.2', 'mat4py==0.6.0',
                  'model-index==0.1.11', 'ordered-set==4.1.0',
                  'markdown==3.11.3', 'importlib-metadata==7.2.1',
                  'zipp==4.1.2'],
        check='import mmpretrain.models; '
              'assert mmpretrain.__version__ == "1.2.0"'),
    'open_clip': dict(
        folder='open_clip-3.3.0',
        packages=['open_clip_torch==3.3.0', 'ftfy==6.3.1', 'wcwidth==0.9.4',
                  'tqdm==4.70.1'],
        check='import open_clip; assert open_clip.__version__ == "3.3.0"'),
}


class PeerUnavailable(RuntimeError):
    """The peer could not be installed (no package index, say)."""


def toolbox_env(*folders: str) -> Dict[str, str]:
    """``os.environ`` for a worker of this interpreter: ``folders`` (a
    peer's), then this repository, then the caller's ``PYTHONPATH`` on the
    import path, so the worker runs this checkout's pixpretrain."""
    paths: List[str] = [*folders, REPO]
    if os.environ.get('PYTHONPATH'):
        paths.append(os.environ['PYTHONPATH'])
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


def peer_folder(peer: str, root: str = CACHE) -> str:
    """The folder ``peer`` is installed into."""
    return osp.join(root, PEERS[peer]['folder'])


def peer_env(peer: str, root: str = CACHE) -> Dict[str, str]:
    """``os.environ`` with the peer's folder first on ``PYTHONPATH``."""
    paths: List[str] = [peer_folder(peer, root)]
    if os.environ.get('PYTHONPATH'):
        paths.append(os.environ['PYTHONPATH'])
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


def ensure_peer(peer: str, root: str = CACHE, quiet: bool = False
                ) -> Dict[str, str]:
    """Install ``peer`` under ``root`` unless it imports already.

    Returns:
        dict: The environment a child process of ``sys.executable`` needs
        to import the peer.

    Raises:
        PeerUnavailable: pip failed, or the installed peer does not import.
    """
    spec = PEERS[peer]
    env = peer_env(peer, root)
    check = [sys.executable, '-W', 'ignore', '-c', spec['check']]
    if subprocess.run(check, env=env, capture_output=True).returncode == 0:
        return env
    folder = peer_folder(peer, root)
    if not quiet:
        print(f'installing {spec["packages"][0]} into {folder}', flush=True)
    install = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
         '--disable-pip-version-check', '--upgrade', '--target', folder]
        + spec['packages'], capture_output=True, text=True)
    if install.returncode != 0:
        raise PeerUnavailable(f'pip could not install {peer}: '
                              + install.stderr.strip()[-500:])
    result = subprocess.run(check, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise PeerUnavailable(f'{peer} installed into {folder} but does not '
                              'import: ' + result.stderr.strip()[-500:])
    return env
