"""The kernel bank: the tutorial's seven as published, and the families equal to OpenCV's own generators."""
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastconv import kernels

cv2 = pytest.importorskip("cv2")


def test_tutorial_bank_as_published():
    bank = kernels.tutorial_bank()
    assert list(bank) == ["small_blur", "large_blur", "sharpen", "laplacian", "sobel_x", "sobel_y", "emboss"]
    np.testing.assert_array_equal(bank["small_blur"], np.ones((7, 7)) / 49)
    np.testing.assert_array_equal(bank["large_blur"], np.ones((21, 21)) / 441)
    np.testing.assert_array_equal(bank["sharpen"], [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_array_equal(bank["laplacian"], [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(bank["sobel_x"], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(bank["sobel_y"], [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_array_equal(bank["emboss"], [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
    for K in bank.values():
        assert K.dtype == np.float64


def test_kernels_are_fresh_copies():
    k = kernels.sharpen()
    k[:] = 0
    assert kernels.sharpen()[1, 1] == 5


@given(st.sampled_from([1, 3, 5, 7, 9, 15, 31]), st.floats(0.2, 20))
def test_gaussian_matches_cv2(size, sigma):
    g = cv2.getGaussianKernel(size, sigma, ktype=cv2.CV_64F)
    np.testing.assert_allclose(kernels.gaussian(size, sigma), g @ g.T, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("size", [3, 9, 21])
def test_gaussian_default_sigma_is_opencvs_rule(size):
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    np.testing.assert_allclose(kernels.gaussian(size), kernels.gaussian(size, sigma))
    assert kernels.gaussian(size).sum() == pytest.approx(1)


SOBEL = [(dx, dy, s) for s in (1, 3, 5, 7) for dx in range(0, 4) for dy in range(0, 4)
         if dx + dy >= 1 and (s > 1 and dx < s and dy < s or s == 1 and dx <= 2 and dy <= 2)]


@pytest.mark.parametrize("dx, dy, size", SOBEL)
def test_sobel_matches_cv2(dx, dy, size):
    kx, ky = cv2.getDerivKernels(dx, dy, size, ktype=cv2.CV_64F)
    np.testing.assert_array_equal(kernels.sobel(dx, dy, size), ky @ kx.T)


@pytest.mark.parametrize("dx, dy", [(1, 0), (0, 1)])
def test_scharr_matches_cv2(dx, dy):
    kx, ky = cv2.getDerivKernels(dx, dy, cv2.FILTER_SCHARR, ktype=cv2.CV_64F)
    np.testing.assert_array_equal(kernels.scharr(dx, dy), ky @ kx.T)


def test_box():
    np.testing.assert_array_equal(kernels.box(3), np.ones((3, 3)) / 9)
    np.testing.assert_array_equal(kernels.box(2, 5), np.ones((2, 5)) / 10)


def test_get_by_name():
    np.testing.assert_array_equal(kernels.get("sharpen"), kernels.sharpen())
    np.testing.assert_array_equal(kernels.get("gaussian:7:1.5"), kernels.gaussian(7, 1.5))
    np.testing.assert_array_equal(kernels.get("gaussian:7"), kernels.gaussian(7))
    np.testing.assert_array_equal(kernels.get("sobel:1:0:5"), kernels.sobel(1, 0, 5))
    np.testing.assert_array_equal(kernels.get("box:3:4"), kernels.box(3, 4))
    np.testing.assert_array_equal(kernels.get(" scharr:0:1 "), kernels.scharr(0, 1))


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: kernels.get("blur"), ValueError, "spec must name a kernel"),
    (lambda: kernels.get("gaussian:x"), ValueError, "spec parameters must be numbers"),
    (lambda: kernels.get("sobel:1"), ValueError, "wrong number of parameters"),
    (lambda: kernels.get(3), TypeError, "spec must be a str"),
    (lambda: kernels.gaussian(4), ValueError, "size must be a positive odd int"),
    (lambda: kernels.gaussian(5, 0), ValueError, "sigma must be a positive finite number"),
    (lambda: kernels.gaussian(5, float("nan")), ValueError, "sigma must be a positive finite number"),
    (lambda: kernels.box(0), ValueError, "size must be a positive int"),
    (lambda: kernels.box(3, 2.5), ValueError, "width must be a positive int"),
    (lambda: kernels.sobel(0, 0), ValueError, "dx \\+ dy must be at least 1"),
    (lambda: kernels.sobel(3, 0, 3), ValueError, "below size=3"),
    (lambda: kernels.sobel(1, 0, 4), ValueError, "size must be one of 1, 3, 5, 7"),
    (lambda: kernels.sobel(-1, 1), ValueError, "dx must be a non-negative int"),
    (lambda: kernels.scharr(1, 1), ValueError, "must be \\(1, 0\\) or \\(0, 1\\)"),
])
def test_bad_parameters_are_refused(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_parse_names_inline_rows_and_files(tmp_path):
    np.testing.assert_array_equal(kernels.parse("sharpen"), kernels.sharpen())
    np.testing.assert_array_equal(kernels.parse("gaussian:7:1.5"), kernels.gaussian(7, 1.5))
    np.testing.assert_array_equal(kernels.parse("0,-1,0;-1,5,-1;0,-1,0"), kernels.sharpen())
    np.testing.assert_array_equal(kernels.parse(" 0 -1 0 ; -1 5 -1 ; 0 -1 0 "), kernels.sharpen())
    np.testing.assert_array_equal(kernels.parse("1.5, -2e-1"), [[1.5, -0.2]])
    np.testing.assert_array_equal(kernels.parse("7"), [[7.0]])
    K = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    np.save(tmp_path / "k.npy", K)
    np.testing.assert_array_equal(kernels.parse(tmp_path / "k.npy"), K.astype(np.float64))
    (tmp_path / "k.csv").write_text("# a 2x3 kernel\n1,2,3\n\n4,5,6\n")
    np.testing.assert_array_equal(kernels.parse(str(tmp_path / "k.csv")), [[1, 2, 3], [4, 5, 6]])
    (tmp_path / "k.txt").write_text("1 2\n3 4\n")
    np.testing.assert_array_equal(kernels.parse(str(tmp_path / "k.txt")), [[1, 2], [3, 4]])
    assert kernels.parse("1,2").dtype == np.float64


@pytest.mark.parametrize("spec, pattern", [
    ("", "spec must not be empty"),
    ("   ", "spec must not be empty"),
    ("1,2,3;4,5", "ragged rows\\): row 1 has 3, row 2 has 2"),
    ("1 2;3 4 5", "ragged rows\\): row 1 has 2, row 2 has 3"),
    ("1,x,3", "row 1 has 'x', which is not a number"),
    ("1,2;3,four", "row 2 has 'four', which is not a number"),
    ("1,,2", "row 1 has an empty value"),
    ("1,2;;3,4", "row 2 is empty"),
    ("1,2;", "row 2 is empty"),
    ("nan,1", "values must be finite"),
    ("1;inf", "values must be finite"),
    ("blur", "spec must be a kernel name .*inline rows"),
    ("gaussian:x", "spec parameters must be numbers"),
    ("missing.npy", "spec file 'missing.npy' does not exist"),
    ("missing.csv", "spec file 'missing.csv' does not exist"),
])
def test_parse_refuses_bad_specs(spec, pattern):
    with pytest.raises(ValueError, match=pattern):
        kernels.parse(spec)


@pytest.mark.parametrize("name, content, pattern", [
    ("bad.npy", b"not numpy", "not a readable .npy file"),
    ("empty.txt", b"# nothing\n\n", "holds no kernel rows"),
    ("ragged.csv", b"1,2\n3\n", "ragged rows\\): row 1 has 2, row 2 has 1"),
    ("words.txt", b"1 2\nthree 4\n", "row 2 has 'three'"),
    ("binary.txt", b"\xff\xfe\x00", "not a readable text file"),
    ("kernel.dat", b"1,2", "must end in .npy, .txt or .csv"),
])
def test_parse_refuses_bad_files(tmp_path, name, content, pattern):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=pattern):
        kernels.parse(str(tmp_path / name))


@pytest.mark.parametrize("array, pattern", [
    (np.ones(3), "2-D array .* shape \\(3,\\)"),
    (np.ones((0, 3)), "non-empty 2-D"),
    (np.array([["a", "b"]]), "dtype <U1"),
    (np.array([[1.0, np.nan]]), "values must be finite"),
])
def test_parse_refuses_bad_npy_arrays(tmp_path, array, pattern):
    np.save(tmp_path / "k.npy", array)
    with pytest.raises(ValueError, match=pattern):
        kernels.parse(str(tmp_path / "k.npy"))


def test_parse_refuses_non_strings():
    with pytest.raises(TypeError, match="spec must be a str"):
        kernels.parse(np.ones((3, 3)))


# --- limits --------------------------------------------------------------------------------------------------------

MAX_TAPS = 2**22            # the documented limit of every kernel made by the bank, get and parse
MAX_SPEC = 16 * 2**20       # the documented limit of an inline spec (characters) and a text file (bytes)


def test_the_largest_kernels_are_made():
    np.testing.assert_array_equal(kernels.box(2048)[[0, -1], [0, -1]], [1 / MAX_TAPS] * 2)
    assert kernels.box(1, MAX_TAPS).shape == (1, MAX_TAPS)
    assert kernels.get("box:2048:2048").shape == (2048, 2048)
    g = kernels.gaussian(2047)
    assert g.shape == (2047, 2047) and g.sum() == pytest.approx(1)


@pytest.mark.parametrize("call, pattern", [
    (lambda: kernels.box(2049), "size must be at most 2048 .*2\\*\\*22.*; got 2049$"),
    (lambda: kernels.box(10**30), "size must be at most 2048"),
    (lambda: kernels.box(2, MAX_TAPS // 2 + 1), "size \\* width must be at most 2\\*\\*22 = 4194304 taps; got 2 x "),
    (lambda: kernels.gaussian(2049), "size must be at most 2047 .*; got 2049$"),
    (lambda: kernels.get("box:100000"), "^spec 'box:100000': size must be at most 2048"),
    (lambda: kernels.get("gaussian:100001:2"), "^spec 'gaussian:100001:2': size must be at most 2047"),
    (lambda: kernels.parse("box:3000:3000"), "size \\* width must be at most 2\\*\\*22"),
])
def test_kernels_beyond_the_tap_limit_are_refused(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_parse_refuses_specs_and_files_beyond_the_limits(tmp_path):
    with pytest.raises(ValueError, match="spec must be at most 16 MiB") as info:
        kernels.parse("1," * (MAX_SPEC // 2) + "1")
    assert len(str(info.value)) < 200
    with pytest.raises(ValueError, match="a kernel may have at most 2\\*\\*22 = 4194304 values"):
        kernels.parse("0 " * MAX_TAPS + "0")            # 8 MiB of text, one value too many
    with pytest.raises(ValueError, match="a kernel may have at most 2\\*\\*22 = 4194304 values"):
        kernels.parse("0;" * MAX_TAPS + "0")
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:                          # sparse: nothing is written but its size
        f.truncate(MAX_SPEC + 1)
    with pytest.raises(ValueError, match=f"must be at most 16 MiB \\({MAX_SPEC} bytes\\); it has {MAX_SPEC + 1}"):
        kernels.parse(big)


def npy_header_only(path, shape, descr="<f8"):
    """A .npy file whose header claims `shape` but which holds no data."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})
    return path


def test_parse_reads_a_npy_header_before_its_data(tmp_path):
    with pytest.raises(ValueError, match="at most 2\\*\\*22 = 4194304 values .*shape \\(100000, 100000\\)"):
        kernels.parse(npy_header_only(tmp_path / "huge.npy", (100000, 100000)))
    with pytest.raises(ValueError, match="at most 2\\*\\*22 = 4194304 values .*shape \\(2049, 2048\\)"):
        kernels.parse(npy_header_only(tmp_path / "over.npy", (2049, 2048)))
    with pytest.raises(ValueError, match="not a readable .npy file"):    # the header is right, the data missing
        kernels.parse(npy_header_only(tmp_path / "empty.npy", (3, 3)))
    K = np.arange(6, dtype=">f4").reshape(2, 3)
    np.save(tmp_path / "big_endian.npy", K)
    np.testing.assert_array_equal(kernels.parse(tmp_path / "big_endian.npy"), K.astype(np.float64))


@pytest.mark.parametrize("spec, shown", [
    ("1,2;3," + "x" * 10000, "row 2 has 'xxxx"),
    ("1,2;" * 5000 + "1", "ragged rows"),
    ("sobel:1:" + "7" * 10000, "spec parameters must be numbers"),
    ("qqq" * 10000, "spec must be a kernel name"),
    ("/no/such/folder/" + "a" * 10000 + ".npy", "does not exist"),
])
def test_messages_quote_a_long_spec_only_in_part(spec, shown):
    with pytest.raises(ValueError, match=shown) as info:
        kernels.parse(spec)
    message = str(info.value)
    assert len(message) < 600 and message.count("...") >= 1 and f"({len(spec)} characters)" in message


# --- sigma at float64's ends -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("sigma", [10**400, -(10**400), 10**5000, float("inf"), np.longdouble(10) ** 400],
                         ids=["10**400", "-10**400", "10**5000", "inf", "longdouble 1e400"])
def test_gaussian_refuses_sigma_beyond_float64(sigma):
    with pytest.raises(ValueError, match="^sigma must be a positive finite number \\(a float64: at most 1.8e308\\)"):
        kernels.gaussian(3, sigma)


@pytest.mark.parametrize("spec", ["gaussian:3:1e-320", "gaussian:5:5e-324", "gaussian:3:1e-160"])
def test_tiny_sigma_gives_the_centre_tap_without_a_warning(spec):
    """Warnings are errors in these tests: a RuntimeWarning from the overflowing distances would fail it."""
    size, sigma = int(spec.split(":")[1]), float(spec.split(":")[2])
    centre = np.zeros((size, size))
    centre[size // 2, size // 2] = 1
    np.testing.assert_array_equal(kernels.get(spec), centre)
    g = cv2.getGaussianKernel(size, sigma, ktype=cv2.CV_64F)
    np.testing.assert_array_equal(kernels.get(spec), g @ g.T)


@pytest.mark.parametrize("sigma", [1e160, 1e300, 1.7976931348623157e308])
def test_huge_sigma_gives_the_uniform_kernel_as_opencv(sigma):
    np.testing.assert_allclose(kernels.gaussian(5, sigma), np.full((5, 5), 1 / 25), rtol=1e-15)
    g = cv2.getGaussianKernel(5, sigma, ktype=cv2.CV_64F)
    np.testing.assert_allclose(kernels.gaussian(5, sigma), g @ g.T, rtol=1e-15)


# --- names ---------------------------------------------------------------------------------------------------------

def test_names_lists_the_bank():
    families = ["box:SIZE[:WIDTH]", "gaussian:SIZE[:SIGMA]", "sobel:DX:DY[:SIZE]", "scharr:DX:DY"]
    assert kernels.names() == ["small_blur", "large_blur", "sharpen", "laplacian", "sobel_x", "sobel_y", "emboss",
                               *families]
    for name in kernels.names()[:7]:
        np.testing.assert_array_equal(kernels.get(name), getattr(kernels, name)())
    values = {"box": ["3", "4"], "gaussian": ["5", "1.5"], "sobel": ["1", "0", "5"], "scharr": ["1", "0"]}
    for family in families:       # each pattern's parameters, required then [optional], are what get takes
        name, *params = family.split("[")[0].split(":")
        required = values[name][:len(params)]
        assert kernels.get(":".join([name, *required])).ndim == 2
        assert kernels.get(":".join([name, *values[name]])).ndim == 2
        with pytest.raises(ValueError, match="wrong number of parameters"):
            kernels.get(":".join([name, *values[name], "1"]))
        if required:
            with pytest.raises(ValueError, match="wrong number of parameters"):
                kernels.get(":".join([name, *required[:-1]]))


@pytest.mark.parametrize("call, suggestion", [
    (lambda: kernels.get("sharpn"), "'sharpen'"),
    (lambda: kernels.get("Laplacian"), "'laplacian'"),
    (lambda: kernels.get("gausian:7:1.5"), "'gaussian:7:1.5'"),
    (lambda: kernels.get("sharpen:3"), "'sharpen'"),
    (lambda: kernels.parse("sobelx"), "'sobel_x'"),
    (lambda: kernels.parse("boxx:5"), "'box:5'"),
])
def test_unknown_names_get_the_closest_name(call, suggestion):
    with pytest.raises(ValueError, match=f": did you mean {suggestion}\\?$"):
        call()


@pytest.mark.parametrize("spec", ["median", "qqq:3", "x" * 100])
def test_unknown_names_far_from_any_get_no_suggestion(spec):
    with pytest.raises(ValueError, match="spec must") as info:
        kernels.parse(spec)
    assert "did you mean" not in str(info.value)


def test_dir_lists_the_public_names_and_no_imported_modules():
    listed = dir(kernels)
    assert sorted(kernels.__all__) == listed
    assert not {"np", "os", "numbers", "math", "re", "difflib", "array"} & set(listed)
    assert not [name for name in listed if isinstance(getattr(kernels, name), types.ModuleType)]
