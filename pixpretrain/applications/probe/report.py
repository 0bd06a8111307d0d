"""A probe report as a terminal table, a JSON file and a plot."""
import json
import os
import os.path as osp
from typing import List, Tuple

MODEL_ORDER = ('trained', 'random-init')


def _columns(report: dict) -> List[Tuple[str, str, str]]:
    """(model, method, sub-key) of every accuracy column, in order."""
    columns = []
    for model in MODEL_ORDER:
        if model not in report['models']:
            continue
        if 'linear' in report['methods']:
            columns.append((model, 'linear', 'test'))
        if 'knn' in report['methods']:
            columns += [(model, 'knn', str(k)) for k in report['knn']['ks']]
    return columns


def _label(model: str, method: str, key: str) -> str:
    name = 'linear' if method == 'linear' else f'kNN-{key}'
    return name if model == 'trained' else f'{name} ({model})'


def format_table(report: dict) -> str:
    """A Markdown table: one row per layer, test accuracies in %, the
    weight decay each linear probe chose, and each model's timings."""
    columns = _columns(report)
    with_wd = 'linear' in report['methods']
    header = ['block'] + [_label(*c) for c in columns]
    if with_wd:
        header += [f'wd ({m})' for m in MODEL_ORDER if m in report['models']]
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for i, layer in enumerate(report['layers']):
        cells = [str(layer)]
        for model, method, key in columns:
            row = report['models'][model]['layers'][i]
            cells.append(f'{row[method][key]:.1f}')
        if with_wd:
            cells += [f"{row['linear']['weight_decay']:g}" for row in (
                report['models'][m]['layers'][i] for m in MODEL_ORDER
                if m in report['models'])]
        lines.append('| ' + ' | '.join(cells) + ' |')
    for model in MODEL_ORDER:
        if model in report['models']:
            timing = report['models'][model]['timing']
            extracted = len(timing['extracted_layers'])
            cached = len(report['layers']) - extracted
            parts = [f"extraction {timing['extraction_s']:.1f} s "
                     f'({extracted} layers extracted, {cached} from the '
                     'cache)']
            parts += [f'{name} {timing[f"{name}_s"]:.1f} s'
                      for name in ('linear', 'knn', 'zero_shot')
                      if f'{name}_s' in timing]
            lines.append(f'\n{model}: ' + ', '.join(parts))
            zero_shot = report['models'][model].get('zero_shot')
            if zero_shot:
                lines.append(f'{model} zero-shot on the test split: ' +
                             ', '.join(f'{k} {v:.1f} %'
                                       for k, v in zero_shot.items()))
    return '\n'.join(lines)


def write_json(report: dict, path: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(report, f, indent=2)


def plot_accuracy(report: dict, path: str) -> None:
    """Test accuracy against depth: one line per method, solid for the
    trained model, dashed for the random init."""
    # The object-oriented API draws without pyplot's global state or a
    # display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.0, 4.0), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = {}
    for model, method, key in _columns(report):
        series = [row[method][key]
                  for row in report['models'][model]['layers']]
        name = 'linear' if method == 'linear' else f'kNN-{key}'
        colour = colours.setdefault(name, f'C{len(colours)}')
        axes.plot(report['layers'], series, marker='o', markersize=3,
                  color=colour, linestyle='-' if model == 'trained' else '--',
                  label=_label(model, method, key))
    axes.set_xlabel('block (0 = first)')
    axes.set_ylabel('test accuracy (%)')
    axes.set_xticks(report['layers'])
    data = report['data']
    axes.set_title(f"{data['name']}: {data['train']['used']} train / "
                   f"{data['test']['used']} test images", fontsize=10)
    axes.grid(alpha=0.3)
    # Outside the axes: inside, it hides the curves' best layers.
    axes.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    figure.savefig(path)
