"""The command line as a user drives it: subprocesses, files on disk, messages and exit codes.

Outputs are checked against the in-memory call (``fastconv.convolve`` on the image as OpenCV reads it) and, for the
demo, against ``cv2.filter2D``.
"""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastconv
from fastconv import kernels

cv2 = pytest.importorskip("cv2")

PACKAGE_ROOT = Path(fastconv.__file__).resolve().parents[1]  # the copy of fastconv under test, for the subprocesses
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")])}
INSTALL_HINT = 'pip install "fastconv[opencv]"'
# Runs the command line in a Python where `import cv2` fails, as on a machine without the opencv extra.
WITHOUT_CV2 = "import sys; sys.modules['cv2'] = None; from fastconv.cli import main; sys.exit(main(sys.argv[1:]))"


def fastconv_cli(*args, cwd=None):
    """``python -m fastconv ARGS``: the completed process, output captured as text."""
    return subprocess.run([sys.executable, "-m", "fastconv", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=ENV, timeout=300, check=False)


def without_cv2(*args):
    return subprocess.run([sys.executable, "-c", WITHOUT_CV2, *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=300, check=False)


def write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def read(path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


def digest(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


RNG = np.random.default_rng(7)


def photo_like(shape, dtype=np.uint8):
    """Smooth structure plus noise, so blurs, edges and saturation all show up."""
    top = np.iinfo(dtype).max
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    base = (0.5 + 0.4 * np.sin(x / 5.0) * np.cos(y / 7.0)) * top
    if len(shape) == 3:
        base = base[..., None] * np.linspace(0.6, 1.0, shape[2])
    return np.clip(base + RNG.normal(0, top / 20, shape), 0, top).astype(dtype)


# --- help, version, no OpenCV --------------------------------------------------------------------------------------

def test_version_and_help():
    result = fastconv_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fastconv {fastconv.__version__}"
    bare, helped = fastconv_cli(), fastconv_cli("--help")
    assert bare.returncode == helped.returncode == 0
    assert bare.stdout == helped.stdout
    for command in ("demo", "apply", "kernels", "bench"):
        assert command in helped.stdout
        result = fastconv_cli(command, "--help")
        assert result.returncode == 0
        assert f"usage: fastconv {command}" in result.stdout and "examples:\n  fastconv " + command in result.stdout


def test_unknown_command_and_missing_options_are_usage_errors():
    assert fastconv_cli("blur").returncode == 2
    result = fastconv_cli("apply", "x.png")
    assert result.returncode == 2 and "-o/--out" in result.stderr


def test_without_opencv_help_kernels_and_bench_work_and_image_commands_say_how_to_install(tmp_path):
    for args in (["--help"], ["apply", "--help"], ["kernels"], ["kernels", "1,2"]):
        result = without_cv2(*args)
        assert result.returncode == 0, (args, result.stderr)
    bench = without_cv2("bench", "--height", 16, "--width", 24, "--repeat", 1)
    assert bench.returncode == 0 and "timing fastconv alone" in bench.stdout and "| emboss | - | - |" in bench.stdout
    write(tmp_path / "in.png", photo_like((8, 8)))
    for args in (["demo", "--out", tmp_path / "demo"], ["apply", "-k", "sharpen", tmp_path / "in.png", "-o",
                                                          tmp_path / "out"]):
        result = without_cv2(*args)
        assert result.returncode == 2
        assert "OpenCV, which is not installed" in result.stderr and INSTALL_HINT in result.stderr
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_console_script():
    script = Path(sys.executable).with_name("fastconv")
    if not script.exists():
        pytest.skip("the fastconv console script is not installed next to this Python")
    result = subprocess.run([str(script), "kernels", "sharpen"], capture_output=True, text=True, env=ENV,
                            timeout=60, check=False)
    assert result.returncode == 0 and "[-1  5 -1]" in result.stdout


def test_pyproject_declares_the_console_script_and_the_photo():
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"      # the checkout these tests are in
    if sys.version_info < (3, 11):
        pytest.skip("needs tomllib (Python 3.11)")
    import tomllib

    config = tomllib.loads(pyproject.read_text())
    assert config["project"]["scripts"]["fastconv"] == "fastconv.cli:main"
    from fastconv.cli import main
    assert callable(main)
    data = config["tool"]["setuptools"]["package-data"]["fastconv"]
    assert "data/*.jpg" in data and "data/*.txt" in data
    photo = Path(fastconv.__file__).parent / "data" / "astronaut.jpg"
    assert photo.stat().st_size < 1_000_000
    notes = photo.with_suffix(".txt").read_text()
    assert "public domain" in notes and "NASA" in notes


# --- kernels and bench ---------------------------------------------------------------------------------------------

def test_kernels_lists_the_bank_with_matrices_and_families():
    result = fastconv_cli("kernels")
    assert result.returncode == 0
    for name, K in kernels.tutorial_bank().items():
        assert f"{name} ({K.shape[0]}x{K.shape[1]}): " in result.stdout
    assert "every tap 1/49" in result.stdout and "every tap 1/441" in result.stdout
    assert "[[ 0 -1  0]\n   [-1  5 -1]\n   [ 0 -1  0]]" in result.stdout
    assert "[[-2 -1  0]\n   [-1  1  1]\n   [ 0  1  2]]" in result.stdout
    for family in ("box:SIZE[:WIDTH]", "gaussian:SIZE[:SIGMA]", "sobel:DX:DY[:SIZE]", "scharr:DX:DY"):
        assert family in result.stdout


def test_kernels_shows_specs():
    result = fastconv_cli("kernels", "sobel:1:0", "0.5 0.25;1 2")
    assert result.returncode == 0
    assert "sobel:1:0 (3x3):\n  [[-1  0  1]\n   [-2  0  2]\n   [-1  0  1]]" in result.stdout
    assert "0.5 0.25;1 2 (2x2):\n  [[0.5  0.25]\n   [1.   2.  ]]" in result.stdout


@pytest.mark.parametrize("spec, matrix", [
    ("0,0", "[[0 0]]"),                                   # equal taps, but no 1/n
    ("1e-320,1e-320", "[[0. 0.]]"),                       # equal taps whose 1/n is beyond float64
    ("-0.25,-0.25", "[[-0.25 -0.25]]"),
    ("1e300,1", "[[1.e+300 1.e+000]]"),                   # integer-valued, but beyond int64
    ("0.125,0.125;0.125,0.125", "every tap 1/8"),
])
def test_kernels_shows_any_kernel_it_reads(spec, matrix):
    result = subprocess.run([sys.executable, "-W", "error", "-m", "fastconv", "kernels", "--", spec],
                            capture_output=True, text=True, env=ENV, timeout=60, check=False)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.splitlines()[1] == "  " + matrix


@pytest.mark.parametrize("spec, message", [
    ("nonsense", "spec must be a kernel name (small_blur, "),
    ("sharpn", "got 'sharpn': did you mean 'sharpen'?"),
    ("gausian:5:1", "got 'gausian:5:1': did you mean 'gaussian:5:1'?"),
    ("box:100000", "spec 'box:100000': size must be at most 2048 (a kernel has at most 2**22 = 4194304 taps)"),
    ("gaussian:9999999", "size must be at most 2047"),
])
def test_kernels_refuses_a_bad_spec_naming_it_as_spec(spec, message):
    """`kernels` takes SPECs as arguments: its errors say what is wrong with the spec, not with an option."""
    result = fastconv_cli("kernels", spec)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("fastconv kernels: error: ") and message in result.stderr
    assert "--kernel" not in result.stderr and "Traceback" not in result.stderr


def test_bench_prints_agreement_and_timings():
    result = fastconv_cli("bench", "--height", 48, "--width", 64, "--repeat", 1)
    assert result.returncode == 0, result.stderr
    assert "on a generated test scene, 48x64 uint8" in result.stdout
    for name in kernels.tutorial_bank():
        assert f"| {name} | 0 | 100.000% |" in result.stdout
    assert fastconv_cli("bench", "--repeat", 0).returncode == 2


# --- demo ------------------------------------------------------------------------------------------------------------

MONTAGES = [f"{i}-{name}.png" for i, name in enumerate(kernels.tutorial_bank(), start=1)]


def panel(montage, index, shape):
    """Panel `index` of a montage (4-pixel gaps, 32-pixel label strips), one channel."""
    h, w = shape
    x = 4 + index * (w + 4)
    return montage[4 + 32:4 + 32 + h, x:x + w, 0]


def test_demo_on_the_bundled_photograph_writes_montages_of_each_kernel(tmp_path):
    result = fastconv_cli("demo", "--repeat", 1, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "fastconv-demo"  # the default --out
    assert sorted(p.name for p in out.iterdir()) == sorted(MONTAGES + ["overview.png"])
    assert f"Wrote 8 images to {out}" in result.stdout
    photo = cv2.imread(str(Path(fastconv.__file__).parent / "data" / "astronaut.jpg"), cv2.IMREAD_GRAYSCALE)
    for file, (name, K) in zip(MONTAGES, kernels.tutorial_bank().items()):
        montage = read(out / file)
        expected = cv2.filter2D(photo, -1, K, borderType=cv2.BORDER_REPLICATE)
        np.testing.assert_array_equal(panel(montage, 0, photo.shape), photo)
        np.testing.assert_array_equal(panel(montage, 1, photo.shape), expected)
        np.testing.assert_array_equal(panel(montage, 2, photo.shape), expected)
        assert not np.array_equal(expected, photo)
        assert f"| {name} | 0 | 100.000% |" in result.stdout
    assert read(out / "overview.png").shape == (2 * (320 + 32 + 4) + 4, 4 * (320 + 4) + 4, 3)


def test_demo_on_a_given_image(tmp_path):
    image = photo_like((60, 90, 3))
    write(tmp_path / "mine.png", image)
    result = fastconv_cli("demo", "--image", tmp_path / "mine.png", "--out", tmp_path / "d", "--repeat", 1)
    assert result.returncode == 0, result.stderr
    gray = cv2.imread(str(tmp_path / "mine.png"), cv2.IMREAD_GRAYSCALE)
    montage = read(tmp_path / "d" / "3-sharpen.png")
    np.testing.assert_array_equal(panel(montage, 1, gray.shape), fastconv.convolve(gray, kernels.sharpen(),
                                                                                   output="round"))
    assert "mine.png, 60x90 uint8" in result.stdout


def damaged_images(folder):
    """Images OpenCV cannot decode, each making another part of it print to stderr when it tries (without the
    command's care): OpenCV's log, libpng itself, libtiff through OpenCV's log."""
    ok, data = cv2.imencode(".png", (np.arange(64 * 64) % 256).astype(np.uint8).reshape(64, 64))
    png = data.tobytes()
    deflate = png.index(b"IDAT") + 4 + 2          # past the chunk type and the zlib header
    files = {
        "truncated.png": png[:len(png) // 2],                                    # "PNG input buffer is incomplete"
        "garbled.png": png[:deflate + 17] + bytes(10) + png[deflate + 27:],      # "libpng error: IDAT: ..."
        "no_header.png": b"\x89PNG\r\n\x1a\n truncated",                          # "IHDR chunk shall be first"
        "garbage.tif": b"II*\x00garbage",                                        # "TIFFReadDirectory: ..."
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
        assert cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED) is None, name
    return sorted(folder / name for name in files)


def test_demo_with_a_broken_image_is_a_clear_error(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n not really")
    damaged = damaged_images(tmp_path)
    for image in [tmp_path / "broken.png", *damaged]:
        result = fastconv_cli("demo", "--image", image, "--out", tmp_path / "d")
        assert result.returncode == 2
        assert result.stderr == (f"fastconv demo: error: --image {str(image)!r}: not an image OpenCV can decode "
                                 f"(damaged, empty or an unsupported format)\n")
        assert not (tmp_path / "d").exists()


# --- apply -----------------------------------------------------------------------------------------------------------

def expected(image, K, border="replicate", output="floor", dtype=None):
    return fastconv.convolve(image, K, border=border, output=output, dtype=dtype or image.dtype)


def test_apply_a_folder_of_100_images_with_progress_and_a_broken_file(tmp_path):
    src = tmp_path / "photos"
    images = {}
    for i in range(100):
        if i == 37:
            continue
        rel = Path(f"set{i % 3}") / (f"deep{i % 2}" if i % 5 == 0 else "") / f"img{i:03d}.png"
        images[rel] = photo_like((24, 32, 3) if i % 2 else (24, 32))
        write(src / rel, images[rel])
    broken = src / "set1" / "img037.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (src / "notes.txt").write_text("not an image, not a candidate")
    before = digest(src)

    result = fastconv_cli("apply", "--kernel", "sharpen", src, "-o", tmp_path / "out")

    assert result.returncode == 1
    assert f"warning: skipped {broken}: not an image OpenCV can decode" in result.stderr
    assert "[##############################] 100/100 images" in result.stderr
    assert result.stderr.count(" images\n") == 10  # one line per tenth when stderr is not a terminal
    assert "Filtered 99 of 100 images" in result.stdout and "1 failed" in result.stdout
    written = {p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert written == set(images)  # the folder structure kept, the broken file and the text file skipped
    for rel, image in images.items():
        np.testing.assert_array_equal(read(tmp_path / "out" / rel), expected(image, kernels.sharpen()))
    assert digest(src) == before  # inputs untouched


def test_apply_warns_about_damaged_images_in_one_line_each_and_nothing_from_opencv(tmp_path):
    """OpenCV's log, libpng and libtiff would each print their own lines about these files; only the command's
    warnings, one per file and naming it, reach stderr."""
    damaged = damaged_images(tmp_path / "in")
    image = photo_like((16, 16))
    write(tmp_path / "in" / "fine.png", image)
    result = fastconv_cli("apply", "-k", "sharpen", tmp_path / "in", "-o", tmp_path / "out")
    assert result.returncode == 1 and "Filtered 1 of 5 images" in result.stdout
    # files are read in parallel: the warnings come in any order
    assert sorted(result.stderr.splitlines()) == sorted(
        f"fastconv apply: warning: skipped {path}: not an image OpenCV can decode (damaged, empty or an "
        f"unsupported format)" for path in damaged)
    np.testing.assert_array_equal(read(tmp_path / "out" / "fine.png"), expected(image, kernels.sharpen()))


def test_quiet_decoders_drops_native_output_only_and_restores_everything(capfd):
    from fastconv.cli import _images

    level = cv2.utils.logging.getLogLevel()
    with _images.quiet_decoders(cv2):
        assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_SILENT
        os.write(2, b"from C, to the null device\n")
        print("from Python", file=sys.stderr, flush=True)
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "from Python\nafter\n"
    assert cv2.utils.logging.getLogLevel() == level


@pytest.mark.parametrize("spec_kind, border, policy", [
    ("name", "replicate", "floor"), ("inline", "reflect101", "round"), ("inline", "wrap", "stretch"),
    ("npy", "constant", "floor"), ("csv", "reflect", "round"), ("name", "wrap", "stretch"),
])
def test_apply_equals_the_api(tmp_path, spec_kind, border, policy):
    K = kernels.gaussian(5, 1.3) if policy != "stretch" else kernels.sobel(1, 0)
    spec = {"name": "gaussian:5:1.3" if policy != "stretch" else "sobel:1:0",
            "inline": ";".join(",".join(repr(float(v)) for v in row) for row in K),
            "npy": tmp_path / "k.npy", "csv": tmp_path / "k.csv"}[spec_kind]
    np.save(tmp_path / "k.npy", K)
    (tmp_path / "k.csv").write_text("\n".join(",".join(repr(float(v)) for v in row) for row in K))
    image = photo_like((30, 41, 3))
    write(tmp_path / "in" / "colour.png", image)
    result = fastconv_cli("apply", "-k", spec, "--border", border, "--output-policy", policy, tmp_path / "in", "-o",
                          tmp_path / "out", "-q")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read(tmp_path / "out" / "colour.png"), expected(image, K, border, policy))


def test_apply_with_several_kernels_writes_one_file_per_kernel(tmp_path):
    image = photo_like((30, 41, 3))
    write(tmp_path / "in" / "photo.png", image)
    write(tmp_path / "in" / "more" / "gray.png", image[..., 0])
    np.save(tmp_path / "edge.npy", kernels.laplacian())
    specs = ["sharpen", "gaussian:5:1.3", "0,-1,0;-1,5,-1;0,-1,0", str(tmp_path / "edge.npy"), "sharpen"]
    args = [a for spec in specs for a in ("-k", spec)]
    result = fastconv_cli("apply", *args, tmp_path / "in", "-o", tmp_path / "out", "-q")
    assert result.returncode == 0, result.stderr
    assert "Filtered 2 of 2 images" in result.stdout
    names = ["sharpen", "gaussian-5-1.3", "k3", "edge", "sharpen-k5"]
    matrices = [kernels.sharpen(), kernels.gaussian(5, 1.3), kernels.sharpen(), kernels.laplacian(),
                kernels.sharpen()]
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == sorted([f"photo.{n}.png" for n in names] + [f"more/gray.{n}.png" for n in names])
    for name, K in zip(names, matrices):
        np.testing.assert_array_equal(read(tmp_path / "out" / f"photo.{name}.png"), expected(image, K))
        np.testing.assert_array_equal(read(tmp_path / "out" / "more" / f"gray.{name}.png"),
                                      expected(image[..., 0], K))
    again = fastconv_cli("apply", *args, tmp_path / "in", "-o", tmp_path / "out", "-q")
    assert again.returncode == 2 and "10 of the outputs exist already" in again.stderr


@pytest.mark.parametrize("name, shape", [("gray16.png", (33, 47)), ("colour16.tif", (33, 47, 3)),
                                         ("gray16.tiff", (20, 25))])
def test_apply_keeps_16_bits(tmp_path, name, shape):
    image = photo_like(shape, np.uint16)
    write(tmp_path / name, image)
    result = fastconv_cli("apply", "-k", "emboss", "--output-policy", "round", tmp_path / name, "-o", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    out = read(tmp_path / "o" / name)
    assert out.dtype == np.uint16 and out.max() > 255
    np.testing.assert_array_equal(out, expected(image, kernels.emboss(), output="round"))


def test_apply_float_policy_writes_float32_tiff(tmp_path):
    image = photo_like((20, 30))
    write(tmp_path / "a.png", image)
    refused = fastconv_cli("apply", "-k", "laplacian", "--output-policy", "float", tmp_path / "a.png", "-o",
                           tmp_path / "o")
    assert refused.returncode == 2 and "add --format tiff" in refused.stderr and not (tmp_path / "o").exists()
    result = fastconv_cli("apply", "-k", "laplacian", "--output-policy", "float", "--format", "tiff",
                          tmp_path / "a.png", "-o", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    out = read(tmp_path / "o" / "a.tiff")
    assert out.dtype == np.float32 and out.min() < 0
    np.testing.assert_array_equal(out, fastconv.convolve(image, kernels.laplacian(), output="float"))


def test_apply_copies_alpha_and_filters_colour(tmp_path):
    image = photo_like((25, 35, 4))
    image[..., 3] = np.where(np.arange(35) < 17, 0, 255).astype(np.uint8)
    write(tmp_path / "rgba.png", image)
    result = fastconv_cli("apply", "-k", "large_blur", tmp_path / "rgba.png", "-o", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    out = read(tmp_path / "o" / "rgba.png")
    assert out.shape == image.shape
    np.testing.assert_array_equal(out[..., :3], expected(image[..., :3], kernels.large_blur()))
    np.testing.assert_array_equal(out[..., 3], image[..., 3])


def test_apply_format_and_16_bit_jpeg(tmp_path):
    write(tmp_path / "a.png", photo_like((16, 16)))
    write(tmp_path / "deep.png", photo_like((16, 16), np.uint16))
    result = fastconv_cli("apply", "-k", "box:3", "--format", "JPG", tmp_path / "a.png", tmp_path / "deep.png",
                          "-o", tmp_path / "o")
    assert result.returncode == 1
    assert "skipped" in result.stderr and "16-bit image cannot be stored as .jpg" in result.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.jpg"]
    assert fastconv_cli("apply", "-k", "box:3", "--format", "gif", tmp_path / "a.png", "-o", tmp_path / "p"
                        ).returncode == 2


@pytest.mark.parametrize("spec, message", [
    ("", "--kernel: spec must not be empty"),
    ("1,2,3;4,5", "ragged rows): row 1 has 3, row 2 has 2"),
    ("1,x;3,4", "row 1 has 'x', which is not a number"),
    ("unsharp", "spec must be a kernel name"),
    ("gausian:7:1.5", "got 'gausian:7:1.5': did you mean 'gaussian:7:1.5'?"),
    ("box:4096:4096", "size * width must be at most 2**22"),
    ("gaussian:4", "size must be a positive odd int"),
    ("missing.npy", "spec file 'missing.npy' does not exist"),
])
def test_apply_bad_kernel_specs(tmp_path, spec, message):
    write(tmp_path / "a.png", photo_like((8, 8)))
    result = fastconv_cli("apply", "-k", spec, tmp_path / "a.png", "-o", tmp_path / "o", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("fastconv apply: error: --kernel: ") and message in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_apply_never_overwrites_inputs(tmp_path):
    write(tmp_path / "in" / "a.png", photo_like((8, 8)))
    write(tmp_path / "in" / "sub" / "a.png", photo_like((8, 8)))
    before = digest(tmp_path)
    cases = [
        (["-o", tmp_path / "in", tmp_path / "in"], "is the INPUT folder"),
        (["-o", tmp_path / "in", tmp_path / "in" / "a.png"], "would be written over the input"),
        (["-o", tmp_path / "in", tmp_path / "in" / "sub"], "1 of the outputs exist already (e.g. '" +
         str(tmp_path / "in" / "a.png") + "'): add --overwrite"),
        (["-o", tmp_path / "in", tmp_path / "in" / "a.png", "--overwrite"], "would be written over the input"),
        (["-o", tmp_path / "o", tmp_path / "in" / "a.png", tmp_path / "in" / "sub" / "a.png"],
         "would both be written to"),
        (["-o", tmp_path / "o", tmp_path / "missing"], "INPUT '" + str(tmp_path / "missing") + "' does not exist"),
        (["-o", tmp_path / "o", tmp_path / "in", "--jobs", 0], "--jobs must be a positive int"),
    ]
    for args, message in cases:
        result = fastconv_cli("apply", "-k", "sharpen", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert digest(tmp_path) == before


IMAGE_NAME = "looks like an image file's name (end it with / if it is meant as a folder)"


@pytest.mark.parametrize("out, what", [
    ("result.png", IMAGE_NAME),
    ("Result.TIFF", IMAGE_NAME),
    ("sub/result.jpeg", IMAGE_NAME),
    ("notes.txt", "is a file"),          # exists
    ("in.png", "is a file"),             # exists, and is the input
])
def test_apply_refuses_an_output_that_is_a_file(tmp_path, out, what):
    write(tmp_path / "in.png", photo_like((8, 8)))
    (tmp_path / "notes.txt").write_text("a file")
    before = digest(tmp_path)
    result = fastconv_cli("apply", "-k", "sharpen", "in.png", "-o", out, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"fastconv apply: error: -o takes a folder, in which each output keeps its input's "
                             f"name; {out!r} {what}\n")
    assert digest(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "notes.txt"]


@pytest.mark.parametrize("out", ["folder.png/", "existing.png"])
def test_apply_takes_a_folder_with_an_image_suffix(tmp_path, out):
    image = photo_like((8, 8))
    write(tmp_path / "in.png", image)
    (tmp_path / "existing.png").mkdir()
    result = fastconv_cli("apply", "-k", "sharpen", "in.png", "-o", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read(tmp_path / out / "in.png"), expected(image, kernels.sharpen()))


def test_apply_filters_an_input_named_twice_once_where_first_named(tmp_path):
    images = {name: photo_like((10, 12)) for name in ("a.png", "sub/c.png")}
    for name, image in images.items():
        write(tmp_path / "in" / name, image)
    spellings = ["in", "in/sub/c.png", str(tmp_path / "in" / "a.png"), "in/./a.png", "in/sub/../a.png", "in/"]
    result = fastconv_cli("apply", "-k", "sharpen", *spellings, "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Filtered 2 of 2 images" in result.stdout
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png")) == \
        ["a.png", "sub/c.png"]
    # the file first, then its folder: the file's own destination wins, and the folder adds only the others
    result = fastconv_cli("apply", "-k", "sharpen", "in/sub/c.png", "in", "-o", "out2", cwd=tmp_path)
    assert result.returncode == 0 and "Filtered 2 of 2 images" in result.stdout
    assert sorted(str(p.relative_to(tmp_path / "out2")) for p in (tmp_path / "out2").rglob("*.png")) == \
        ["a.png", "c.png"]
    for name, image in images.items():
        np.testing.assert_array_equal(read(tmp_path / "out" / name), expected(image, kernels.sharpen()))
        np.testing.assert_array_equal(read(tmp_path / "out2" / Path(name).name), expected(image, kernels.sharpen()))


def test_apply_with_outdir_inside_the_input_folder_does_not_read_its_outputs(tmp_path):
    image = photo_like((12, 14))
    write(tmp_path / "in" / "a.png", image)
    for again in ([], ["--overwrite"]):
        result = fastconv_cli("apply", "-k", "sharpen", tmp_path / "in", "-o", tmp_path / "in" / "out", *again)
        assert result.returncode == 0 and "Filtered 1 of 1 images" in result.stdout
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.png")) == ["in/a.png", "in/out/a.png"]
    np.testing.assert_array_equal(read(tmp_path / "in" / "out" / "a.png"), expected(image, kernels.sharpen()))


def test_apply_an_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = fastconv_cli("apply", "-k", "sharpen", tmp_path / "empty", "-o", tmp_path / "o")
    assert result.returncode == 2 and "no image files" in result.stderr


SLOW_KERNEL = np.random.default_rng(3).integers(-1, 2, (255, 255)).astype(np.float64)   # about 1 s per file


def run_and_interrupt(tmp_path, presses):
    """``apply`` on 20 images, interrupted by `presses` Ctrl-C's once its first output exists: the completed
    process (output as text) and the output folder. Ctrl-C goes to the whole process group, as a terminal sends
    it; the command runs in its own group, so that is the command alone."""
    for i in range(20):
        write(tmp_path / "in" / f"{i:02d}.png", np.full((500, 500), 100, np.uint8))
    np.save(tmp_path / "slow.npy", SLOW_KERNEL)
    out = tmp_path / "out"
    # -q: the progress bar's line at 2 of 20 files would race the interrupt (both workers finish together)
    process = subprocess.Popen([sys.executable, "-m", "fastconv", "apply", "-k", tmp_path / "slow.npy", "-j", "2",
                                "-q", tmp_path / "in", "-o", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=ENV, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out.is_dir() and any(out.iterdir())):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no output within 120 s"
            time.sleep(0.02)
        for press in range(presses):
            time.sleep(0.2 * press)
            os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), out


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="sends SIGINT to a process group, as a terminal does")
def test_ctrl_c_during_apply_lets_the_files_being_filtered_finish_then_ends_with_130(tmp_path):
    result, out = run_and_interrupt(tmp_path, presses=1)
    assert result.returncode == 130 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "fastconv apply: interrupted: finishing the images being filtered (Ctrl-C again to stop at once)"
    written = sorted(out.iterdir())
    assert lines[1:] == [f"fastconv apply: error: interrupted: {len(written)} of 20 images written into {out}, "
                         f"the others not"]
    assert 1 <= len(written) < 20
    filtered = fastconv.convolve(np.full((500, 500), 100, np.uint8), SLOW_KERNEL)
    for path in written:            # whole files, not halves
        np.testing.assert_array_equal(read(path), filtered)


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="sends SIGINT to a process group, as a terminal does")
def test_a_second_ctrl_c_during_apply_stops_at_once_with_130_and_no_traceback(tmp_path):
    result, out = run_and_interrupt(tmp_path, presses=2)
    assert result.returncode == 130 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "fastconv apply: interrupted: finishing the images being filtered (Ctrl-C again to stop at once)",
        "fastconv apply: interrupted again: stopped at once; the images being written may be incomplete"]
    assert len(list(out.iterdir())) < 20


def test_a_closed_pipe_ends_quietly():
    """`fastconv kernels | head`: the reader closes the pipe early; no traceback, a non-zero status."""
    process = subprocess.Popen([sys.executable, "-m", "fastconv", "kernels"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=ENV)
    process.stdout.close()                 # before the child has started writing
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
