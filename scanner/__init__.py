"""scanner: forensic detection and localisation of image processing traces.

Cozzolino, Poggi and Verdoliva (2017): the SRM residual descriptor recast as a CNN.
Heavy modules (torch) are imported lazily; ``import scanner`` stays fast.
"""

__version__ = "0.12.1"
