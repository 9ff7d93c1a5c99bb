# Types of the compiled core's avx2 variant: the same source (_core.pxi) as the baseline, compiled with other
# instruction-set flags, so the same interface (see _core_baseline.pyi).
from fastconv._core_baseline import *  # noqa: F403
