"""How closely two float32 evaluations of one PSMNet on one input must agree, and why.

Two formulations of the same network (this code and the official recipe, a batch and single
pairs, the fast path and the plain one, the node's process and the test's) agree only up to
float32 rounding: convolution kernels, memory layouts, thread counts and instruction sets
(AVX-512, AVX2, SSE4.1, NEON) sum in different orders. The last stage's scores carry about
1e-5 of their range of such error (measured layer by layer against float64), and the soft
argmin d = sum_k k softmax(s)_k turns a score error ds into sum_k p_k (k - d) ds_k: small where
one peak dominates, up to the distance between two peaks where they nearly tie (untrained
weights give many), i.e. up to maxdisp - 1 px at isolated pixels. So the comparison is
statistical:

- a pixel that differs by more than FLIP_PX has flipped between peaks; at most
  MAX_FLIPPED_FRACTION of the pixels may flip. Measured with AVX-512, AVX2 and SSE4.1 kernels
  (ONEDNN_MAX_CPU_ISA; ATEN_CPU_CAPABILITY avx512, avx2, default) and 1 or 2 threads: at most
  0.002 %. A formulation that is wrong flips far more: a crop one row or column off moves
  9-10 % of the pixels of test_model's random network and 92-94 % of the reference model's;
- over the other pixels the mean difference stays within MEAN_PX. Measured at most 0.0007 px
  for the reference weights and 0.0044 px for test_fast_path's random network on the kernels
  without SIMD (ATEN_CPU_CAPABILITY=default), where 1.7 % of its pixels move by 0.1-0.38 px.
"""
import numpy as np

FLIP_PX = 0.5
MAX_FLIPPED_FRACTION = 0.005
MEAN_PX = 0.01


def assert_disparities_agree(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """Two HxW disparities (pixels) of one network and input, computed two ways, agree (see above)."""
    assert actual.shape == expected.shape, f"{what}: shapes {actual.shape} and {expected.shape}"
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    flipped = diff > FLIP_PX
    summary = (f"{what}: {flipped.mean():.3%} of the pixels differ by more than {FLIP_PX} px (max {diff.max():.4f}), "
               f"the others by {diff[~flipped].mean() if (~flipped).any() else float('nan'):.5f} px on average")
    assert flipped.mean() <= MAX_FLIPPED_FRACTION, summary
    assert diff[~flipped].mean() <= MEAN_PX, summary
