"""What training runs with: the library versions a model card records (the device: :mod:`scanner.core.device`)."""

from __future__ import annotations

import numpy as np
import PIL
import sklearn
import torch

from .. import __version__


def library_versions() -> dict[str, str]:
    return {"scanner": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "pillow": PIL.__version__}
