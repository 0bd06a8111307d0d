"""An mmengine work dir's training records (``vis_data/scalars.json``),
for ``tools/analysis/plot_logs.py`` and the benchmarks' loss curves."""
import json
from pathlib import Path
from typing import Dict, List, Sequence


def find_logs(path: str) -> List[Path]:
    """The JSON logs a path names: itself, or a work dir's
    ``*/vis_data/scalars.json`` in launch order."""
    target = Path(path)
    if target.is_file():
        return [target]
    logs = sorted(target.glob('*/vis_data/scalars.json'))
    if not logs:
        logs = sorted(target.glob('vis_data/scalars.json'))
    if not logs:
        raise FileNotFoundError(
            f"no '*/vis_data/scalars.json' under '{path}': is it an mmengine "
            'work dir with LocalVisBackend (the default runtime) enabled?')
    return logs


def load_training_records(logs: Sequence[Path]) -> List[dict]:
    """Training records (those with an 'iter'), merged by iteration."""
    by_iter: Dict[int, dict] = {}
    for log in logs:
        for line in log.read_text().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            if 'iter' in record:
                by_iter[int(record['iter'])] = record
    if not by_iter:
        raise ValueError(f'no training records in {", ".join(map(str, logs))}')
    return [by_iter[i] for i in sorted(by_iter)]
