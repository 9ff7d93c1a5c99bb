"""Declares the compiled core: one extension per SIMD variant, all from the same source.

fastconv._dispatch picks the best variant the running CPU supports, so nothing here depends on the build machine's
CPU (no -march=native).
"""
import platform
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

# Only x86 has the AVX variants; elsewhere (aarch64, ...) the baseline build is the whole core.
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
# gcc and clang flags of the x86 variants.
X86_VARIANTS = {
    "baseline": [],
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mprefer-vector-width=512"],
}

if sys.platform == "win32":
    # MSVC's OpenMP (vcomp140.dll, which the wheel repair bundles). The core tells AVX2 and AVX-512 apart with
    # gcc/clang builtins only and reports neither under MSVC, so AVX builds would never be chosen: baseline only.
    OPENMP_COMPILE, OPENMP_LINK = ["/openmp"], []
    OPTIMIZE = ["/O2"]
    VARIANT_FLAGS = {"baseline": []}
elif sys.platform == "darwin":
    # Apple clang has no OpenMP runtime of its own: it preprocesses the pragmas and links libomp, whose include
    # and lib folders come from CPPFLAGS and LDFLAGS (Homebrew's libomp; the wheel repair bundles the dylib).
    OPENMP_COMPILE, OPENMP_LINK = ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    OPTIMIZE = ["-O3", "-ffp-contract=off"]     # the core spells out its multiply-adds (see below)
    VARIANT_FLAGS = X86_VARIANTS if X86 else {"baseline": []}
else:
    OPENMP_COMPILE, OPENMP_LINK = ["-fopenmp"], ["-fopenmp"]
    # The register-blocked loops (a block of output columns kept in vector registers while every tap is added)
    # need gcc to leave their loop nests alone: unroll-and-jam and interchange turn them into scalar loops.
    # The core spells its multiply-adds out (FC_FMA); the compiler's own contraction fused some loops and not
    # others, so a pixel's rounding depended on where its column fell. -g0: no debug information in the wheel.
    # The FFT path's radix-4 butterflies read and write four rows of real and imaginary parts: gcc vectorises
    # such a loop only after run-time checks that the rows do not overlap, more checks than its default limit.
    OPTIMIZE = ["-O3", "-fno-loop-unroll-and-jam", "-fno-loop-interchange", "-ffp-contract=off", "-g0",
                "--param=vect-max-version-for-alias-checks=40"]
    VARIANT_FLAGS = X86_VARIANTS if X86 else {"baseline": []}

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
