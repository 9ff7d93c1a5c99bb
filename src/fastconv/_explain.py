"""``fastconv.explain``: what a call of ``fastconv.convolve`` would run, and why, without running it."""
from dataclasses import dataclass, field

import numpy as np

from fastconv import _api, _masked, _plan, _runtime
from fastconv._bounds import EPSILON
from fastconv._checks import check_bank, check_flag, check_mask, check_nan_policy, split_masked
from fastconv._output import POLICY_RAW


@dataclass(frozen=True)
class Explanation:
    """What a call runs: see `explain`. ``str()`` gives it in a few readable lines."""
    path: str
    accumulator: str
    threads: int
    pieces: int
    fft_tile: object        # the FFT path's tile side, or None
    error_bound: str
    not_taken: dict = field(default_factory=dict)
    image_shape: tuple = ()
    kernel_shape: tuple = ()
    output_dtype: str = ""
    nan_policy: str = "propagate"

    def __str__(self):
        lines = [f"path: {self.path}" + (f" (tiles of {self.fft_tile} x {self.fft_tile})" if self.fft_tile else ""),
                 f"accumulator: {self.accumulator}",
                 f"threads: at most {self.threads}, over {self.pieces} pieces",
                 f"error bound: {self.error_bound}",
                 f"image {self.image_shape} -> {self.output_dtype}, kernel {self.kernel_shape}"]
        if self.nan_policy == "omit":
            lines.append("nan_policy: omit (the values and the valid mask each take this path, then each sum is "
                         "renormalized by the valid weight)")
        for path, why in self.not_taken.items():
            lines.append(f"not {path}: {why}")
        return "\n".join(lines)


def explain(image, K, *, border="replicate", cval=0.0, output=None, dtype=None, anchor=None, flip=False,
            accumulate=None, threads=None, nan_policy="propagate", mask=None, preserve_nan=False, stack=False):
    """What ``fastconv.convolve(image, K, ...)`` with the same options would run, without running it.

    Parameters
    ----------
    image, K, border, cval, output, dtype, anchor, flip, accumulate, threads, nan_policy, mask, preserve_nan
        As for `fastconv.convolve` (checked the same way: the same errors for the same mistakes).
    stack : bool, optional
        As for `fastconv.convolve`: the first axis indexes frames.

    Returns
    -------
    Explanation
        ``path`` ('direct', 'integer', 'separable', 'lowrank', 'box' or 'fft'), ``accumulator`` (the sums' type),
        ``threads`` (the most the call may use; fewer while other calls hold the budget), ``pieces`` (per
        plane, a channel or a frame: the threads claim the pieces of all planes as they come), ``fft_tile``
        (the FFT path's tile side, else None),
        ``error_bound`` (what the result is guaranteed to be within), ``not_taken`` (each faster path that was
        not taken, and why). ``print()`` shows it readably.

    Examples
    --------
    >>> import numpy as np
    >>> import fastconv
    >>> image = np.zeros((480, 640), np.uint8)
    >>> fastconv.explain(image, fastconv.kernels.gaussian(9, 2.0)).path
    'separable'
    >>> print(fastconv.explain(image, np.ones((5, 5)) / 25))  # doctest: +ELLIPSIS
    path: box
    ...
    """
    nan_policy = check_nan_policy(nan_policy)
    stack = check_flag(stack, "stack")
    if nan_policy == "omit":
        image, mask = split_masked(image, mask, stack)
    if check_bank(K) is not None:
        raise ValueError("K: explain takes one 2-D kernel; each kernel of a bank runs as its own call, so explain "
                         "each: [fastconv.explain(image, k) for k in K]")
    call = _api.resolve_options(image, K, border, cval, output, dtype, anchor, flip, accumulate, threads, stack)
    if nan_policy == "omit":
        check_mask(mask, call.img.shape, stack)
        check_flag(preserve_nan, "preserve_nan")
        work = _masked.work_dtype(call)       # both passes filter float sums, as `convolve` does
        call = call._replace(img=np.zeros(call.img.shape, work), output="float", out_dtype=work, policy=POLICY_RAW)
    raw = call.output == "stretch"
    sums_dtype = call.raw_dtype if raw else call.out_dtype
    policy = POLICY_RAW if raw else call.policy
    plan = _plan.plan(call.kernel, call.img.dtype, call.border, call.cval, sums_dtype, policy, 0.0, call.accumulate)
    shape = call.img.shape[1:3] if stack else call.img.shape[:2]
    planes = int(np.prod(call.img.shape)) // max(1, shape[0] * shape[1]) if all(shape) else 1
    if nan_policy == "omit" and not stack:
        planes = 1      # omit filters one plane at a time
    run = plan.resolve(shape, call.threads, planes)
    pieces = _pieces(run, shape, call.kernel.shape, plan)
    budget = _runtime.budget()
    most = budget if run.schedule.threads < 0 else min(run.schedule.threads, budget)
    tile = plan.option.get("tile") if run.path == "fft" else None
    reasons = dict(plan.reasons)
    if run.path != plan.path:
        reasons[plan.path] = "the image is too small for its tiles"
    return Explanation(run.path, str(run.accumulator), max(1, min(most, pieces * planes)), pieces, tile,
                       _bound_text(plan, run, raw), reasons, tuple(call.img.shape),
                       tuple(call.kernel.shape), str(call.out_dtype), nan_policy)


def _pieces(run, shape, kshape, plan):
    h, w = shape
    if not h or not w:
        return 0
    if run.path == "fft":
        n = plan.option["tile"]
        return -(-h // (n - kshape[0] + 1)) * -(-w // (2 * (n - kshape[1] + 1)))
    return -(-h // run.schedule.band) * -(-w // run.schedule.strip)


def _bound_text(plan, run, raw):
    if plan.integer_output and not raw:
        if run.path in ("integer", "box") or (plan.integer_image and plan.int_kernel):
            return "exact: the integer sums, then the output policy"
        if plan.integer_image:
            return (f"at most one level from the exact result (the sums within {plan.bound[0]:.3g} of exact, "
                    f"under half a level)")
        return "the sums within float rounding of exact, then the output policy"
    epsilon = EPSILON[plan.out_dtype.itemsize]
    kind = "the larger of one level and " if plan.integer_image else ""
    return (f"|result - exact| <= {epsilon:.3g} x sum|K| x ({kind}the largest sample magnitude in the pixel's "
            f"window)" + (f"; this path: {plan.bound[1] / max(plan.l1, 1e-300):.3g} x" if run.path != "fft" else ""))

