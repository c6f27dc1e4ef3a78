"""Features: the SRM residual co-occurrence descriptor, the chroma-residual codes and the JPEG
lattice features, as plain functions on pixel arrays."""
