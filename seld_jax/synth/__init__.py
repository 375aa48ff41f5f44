# Copyright 2026 The seld_jax Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Offline generator of STARSS23-format SELD scenes (the embedded dataset).

Modules, one job each:

  sources   procedurally synthesised sound events for the 13 STARSS classes,
            or real clips from per-class folders (`--sources DIR`)
  scenes    event placement (polyphony, same-class overlaps), trajectories,
            and the frame-wise labels (`EventTable`)
  spatial   FOA (ACN/SN3D) and tetrahedral MIC (rigid-sphere) encoders
  room      shoebox image-source early reflections, diffuse late tail, and
            time-varying (block-wise) convolution
  noise     diffuse coloured ambient noise
  video     equirectangular 360-degree video frames drawn from the labels
  render    `SynthConfig`, `render_scene` (in memory) and `render_dataset`
            (the STARSS23 folder layout on disk)
  files     atomic file writes

Command line: `python -m seld_jax.synth --out DIR` (see `__main__.py`).
"""
