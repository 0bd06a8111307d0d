"""README's "Adding your own module" example, run as written: its two code
blocks saved beside each other, tools/train.py run from that directory
with no PYTHONPATH."""
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'fixtures' / 'tiny_mae.py'


def readme_blocks():
    """The README section's python blocks, keyed by their first-line
    comment ('# my_package/heads.py')."""
    text = (REPO / 'README.md').read_text()
    section = text.split('## Adding your own module', 1)[1].split('\n## ')[0]
    blocks = re.findall(r'```python\n(.*?)```', section, re.S)
    return {b.splitlines()[0].lstrip('# ').strip(): b for b in blocks}


def test_the_readme_example_trains_from_the_directory_it_is_in(tmp_path):
    blocks = readme_blocks()
    assert set(blocks) == {'my_package/heads.py', 'my_config.py'}
    (tmp_path / 'my_package').mkdir()
    (tmp_path / 'my_package' / '__init__.py').write_text('')
    (tmp_path / 'my_package' / 'heads.py').write_text(
        blocks['my_package/heads.py'])
    # The same config, on the tiny test model instead of ViT-T on CIFAR.
    config = blocks['my_config.py'].replace(
        "'configs/mae/vit-t-p4_cifar10.py'", repr(str(TINY)))
    assert config != blocks['my_config.py']
    (tmp_path / 'my_config.py').write_text(
        config + 'train_cfg = dict(max_iters=2)\n')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'train.py'), 'my_config.py',
         '--work-dir', 'work'], cwd=tmp_path,
        env=dict(env, OMP_NUM_THREADS='1'),
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()
    # The head really came from my_package: the dumped config names it.
    dumped = (tmp_path / 'work' / 'my_config.py').read_text()
    assert "type='L1MAEHead'" in dumped
