"""Tests of benchmarks/mfu.py: FLOP counts, peak table, utilisation."""

import jax
import jax.numpy as jnp
import pytest

from benchmarks import mfu


@pytest.mark.parametrize(
    'kind, bf16, expected',
    [
        ('NVIDIA H100 80GB HBM3', True, 989.4),
        ('NVIDIA H100 80GB HBM3', False, 494.7),  # TF32, JAX's f32 default
        ('NVIDIA H100 PCIe', True, 756.0),
        ('NVIDIA H100 NVL', False, 417.5),
        ('NVIDIA H200', True, 989.4),
        ('NVIDIA A100-SXM4-80GB', False, 156.0),
        ('TPU v5 lite', False, 197.0),  # one bf16 pass for f32 on TPU
        ('TPU v4', True, 275.0),
        ('cpu', False, None),
        ('Some Future Chip', True, None),
    ],
)
def test_peak_tflops_by_device_kind(kind, bf16, expected):
  assert mfu.peak_tflops(kind, bf16) == expected


def test_compiled_flops_count_a_matmul_exactly():
  m, k, n = 64, 96, 32
  compiled = (
      jax.jit(jnp.matmul).lower(jnp.ones((m, k)), jnp.ones((k, n))).compile()
  )
  assert mfu.compiled_flops(compiled, 1) == 2 * m * k * n
  # Per-device programs times the devices that run them.
  assert mfu.compiled_flops(compiled, 4) == 4 * 2 * m * k * n


class _FakeCompiled:

  def __init__(self, analysis):
    self._analysis = analysis

  def cost_analysis(self):
    return self._analysis


@pytest.mark.parametrize(
    'analysis, expected',
    [
        ([{'flops': 10.0}], 20.0),  # older JAX: a list of one dict
        ({'flops': 0.0}, None),
        ({}, None),
        (None, None),
        ([], None),
    ],
)
def test_compiled_flops_edge_cases(analysis, expected):
  assert mfu.compiled_flops(_FakeCompiled(analysis), 2) == expected


def test_utilisation():
  achieved, fraction = mfu.utilisation(1e12, 0.5, 4.0, 2)
  assert achieved == pytest.approx(2.0)
  assert fraction == pytest.approx(0.25)
  assert mfu.utilisation(1e12, 0.5, None, 2) == (pytest.approx(2.0), None)
  assert mfu.utilisation(None, 0.5, 4.0, 1) == (None, None)
  assert mfu.utilisation(1e12, 0.0, 4.0, 1) == (None, None)


def test_matmul_roof_is_a_positive_rate():
  roof = mfu.matmul_roof_tflops(n=128, repeats=2)
  # Any CPU does a 128^3 matmul in well under a second (4.2 MFLOP).
  assert 4.2e6 / 1e12 < roof < 1e3
