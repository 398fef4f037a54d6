"""Keep model loading quiet when stderr is not a terminal.

Loading the MiniLM model draws transformers' "Loading weights" progress bar and may log
advisory warnings. Like selfmem's own progress bars, they are wanted on a terminal only:
in a pipe, a file or a CI log they are noise in captured output.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

__all__ = ["quiet_model_loading"]

#: Read by huggingface_hub and transformers when they are first imported.
_QUIET_ENVIRONMENT = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def quiet_model_loading(stderr: TextIO) -> bool:
    """Silence Hugging Face progress bars and logging unless ``stderr`` is a terminal.

    Returns whether it did. Variables the user set are left as they are; libraries already
    imported in this process are told directly.
    """
    if stderr.isatty():
        return False
    for name, value in _QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    # Already imported in this process (their variables were read then): tell them directly.
    hub: Any = sys.modules.get("huggingface_hub.utils")
    if hub is not None:
        hub.disable_progress_bars()
    transformers_logging: Any = sys.modules.get("transformers.utils.logging")
    if transformers_logging is not None:
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
    return True
