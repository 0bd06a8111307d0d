from .console import (BriefConsoleFlexibleRunner, BriefConsoleRunner,
                      keep_console_brief)
from .runners import PretrainFlexibleRunner, PretrainRunner
from .hooks import *  # noqa: F401,F403
from .loops import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .strategies import *  # noqa: F401,F403
