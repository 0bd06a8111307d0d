"""Comparing a module's state with a copy taken earlier."""
from typing import Dict, List

import torch


def changed_entries(before: Dict[str, torch.Tensor],
                    module: torch.nn.Module) -> List[str]:
    """Names of ``module``'s state entries that differ from ``before``.

    Args:
        before: A CPU copy of ``module.state_dict()`` taken earlier.
        module: The module now.

    Returns:
        The sorted names that changed or disappeared since.
    """
    now = module.state_dict()
    return sorted(k for k, v in before.items()
                  if k not in now or not torch.equal(v, now[k].cpu()))
