"""Declares the compiled parts: the thread runtime, and the core once per SIMD variant, all from one source.

fastconv._dispatch picks the best core variant the running CPU supports, so nothing here depends on the build
machine's CPU (no -march=native). The extensions are cythonized and compiled in parallel, one per core.
"""
import os
import platform
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError

# Only x86 has the AVX variants; elsewhere (aarch64, ...) the baseline build is the whole core.
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
# gcc and clang flags of the x86 variants.
X86_VARIANTS = {
    "baseline": [],
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mprefer-vector-width=512"],
}

if sys.platform == "win32":
    # The core tells AVX2 and AVX-512 apart with gcc/clang builtins only and reports neither under MSVC, so AVX
    # builds would never be chosen: baseline only. MSVC does not contract a * b + c unless /fp:contract is given.
    OPTIMIZE, OPTIONAL, THREADS = ["/O2"], [], []
    VARIANT_FLAGS = {"baseline": []}
else:
    # The register-blocked loops (a block of output columns kept in vector registers while every tap is added)
    # need gcc to leave their loop nests alone: its unroll-and-jam and interchange turn them into scalar loops.
    # Every multiply-add in the core is a multiply then an add, on every variant, so that a pixel's value depends
    # on nothing but its neighbourhood: no contraction into FMA (-ffp-contract=off), which would round some loops
    # once and others twice. The FFT path's butterflies read and write four rows: gcc vectorises them
    # only after run-time overlap checks, more than its default limit. -g0: no debug information in the wheel.
    OPTIMIZE = ["-O3", "-ffp-contract=off", "-g0"]
    # gcc's loop-optimisation flags; compilers that do not know them (clang) build without them
    OPTIONAL = ["-fno-loop-unroll-and-jam", "-fno-loop-interchange", "--param=vect-max-version-for-alias-checks=40"]
    THREADS = ["-pthread"]
    VARIANT_FLAGS = X86_VARIANTS if X86 else {"baseline": []}


class ParallelBuildExt(build_ext):
    """build_ext compiling the extensions side by side, one per core (unless --parallel says otherwise), with the
    optional flags the compiler accepts."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        accepted = [flag for flag in OPTIONAL if self._accepts(flag)]
        for ext in self.extensions:
            ext.extra_compile_args = ext.extra_compile_args + accepted
        super().build_extensions()

    def _accepts(self, flag):
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "probe.c")
            with open(source, "w") as f:
                f.write("int probe(void) { return 0; }\n")
            try:
                self.compiler.compile([source], output_dir=folder, extra_postargs=["-Werror", flag])
            except CompileError:
                return False
        return True


extensions = [
    Extension("fastconv._runtime", ["src/fastconv/_runtime.pyx", "src/fastconv/_pool.c"],
              depends=["src/fastconv/_pool.h", "src/fastconv/_pool_sys.h"],
              extra_compile_args=OPTIMIZE + THREADS, extra_link_args=THREADS),
] + [
    Extension(f"fastconv._core_{variant}", [f"src/fastconv/_core_{variant}.pyx"],
              extra_compile_args=OPTIMIZE + flags, extra_link_args=THREADS)
    for variant, flags in VARIANT_FLAGS.items()
]

setup(
    ext_modules=cythonize(extensions, language_level=3, nthreads=os.cpu_count() or 1),
    cmdclass={"build_ext": ParallelBuildExt},
)
