"""Declares the compiled core: one extension per SIMD variant, all from the same source.

fastconv._dispatch picks the best variant the running CPU supports, so nothing here depends on the build machine's
CPU (no -march=native).
"""
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    OPENMP_COMPILE, OPENMP_LINK = ["/openmp"], []
    OPTIMIZE = ["/O2"]
    VARIANT_FLAGS = {"baseline": [], "avx2": ["/arch:AVX2"], "avx512": ["/arch:AVX512"]}
elif sys.platform == "darwin":
    OPENMP_COMPILE, OPENMP_LINK = ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    OPTIMIZE = ["-O3"]
    VARIANT_FLAGS = {"baseline": []}
else:
    OPENMP_COMPILE, OPENMP_LINK = ["-fopenmp"], ["-fopenmp"]
    # The register-blocked loops (a block of output columns kept in vector registers while every tap is added)
    # need gcc to leave their loop nests alone: unroll-and-jam and interchange turn them into scalar loops.
    # The core spells its multiply-adds out (FC_FMA); the compiler's own contraction fused some loops and not
    # others, so a pixel's rounding depended on where its column fell.
    OPTIMIZE = ["-O3", "-fno-loop-unroll-and-jam", "-fno-loop-interchange", "-ffp-contract=off"]
    VARIANT_FLAGS = {
        "baseline": [],
        "avx2": ["-mavx2", "-mfma"],
        "avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq",
                   "-mprefer-vector-width=512"],
    }

# Only x86-64 has the AVX variants; elsewhere the baseline build is the whole core.
import platform

if platform.machine().lower() not in ("x86_64", "amd64", "i686", "x86"):
    VARIANT_FLAGS = {"baseline": []}

extensions = [
    Extension(
        f"fastconv._core_{variant}",
        [f"src/fastconv/_core_{variant}.pyx"],
        extra_compile_args=OPTIMIZE + OPENMP_COMPILE + flags,
        extra_link_args=OPENMP_LINK,
    )
    for variant, flags in VARIANT_FLAGS.items()
]

setup(ext_modules=cythonize(extensions, language_level=3))
