"""Thread pinning for the bench's PyTorch peers, imported before torch.

Thread counts must be set before torch (and its BLAS) loads: Debian's torch with OpenBLAS ignores
torch.set_num_threads for BLAS calls and would use every core in a "1 thread" row.
"""

import os
import sys


def pin_from_argv(argv=None):
    """Sets the OpenMP/BLAS thread variables from --threads N (or --threads=N); 1 when absent."""
    argv = sys.argv if argv is None else argv
    n = "1"
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            n = argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = n
