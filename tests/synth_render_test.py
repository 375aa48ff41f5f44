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

"""Scene statistics, the dataset layout, determinism and the CLI."""

import collections
import dataclasses
import logging
import os
import pathlib

import numpy as np
import pytest
import soundfile

from seld_jax import formats
from seld_jax.synth import __main__ as cli
from seld_jax.synth import files
from seld_jax.synth import render
from seld_jax.synth import scenes
from seld_jax.synth import sources
from seld_jax.synth import video

DEFAULT = render.SynthConfig()


@pytest.fixture(scope='module')
def default_scenes():
  """The first four scenes of the default dataset, rendered in memory."""
  jobs = render.scene_plan(DEFAULT)[:4]
  return [render.render_job(DEFAULT, job) for job in jobs]


def _frame_counts(table):
  return collections.Counter(table.frame.tolist())


def test_default_polyphony_and_same_class_overlaps(default_scenes):
  active = multi = same_class = 0
  for audio, table in default_scenes:
    counts = _frame_counts(table)
    assert max(counts.values()) <= DEFAULT.max_polyphony
    active += len(counts)
    multi += sum(1 for v in counts.values() if v >= 2)
    pairs = collections.Counter(zip(table.frame.tolist(), table.class_index))
    same_class += sum(1 for v in pairs.values() if v >= 2)
    # Same-class events in one frame always have distinct source ids.
    keys = list(zip(table.frame, table.class_index, table.source))
    assert len(keys) == len(set(keys))
    for fmt in DEFAULT.formats:
      assert audio[fmt].shape == (DEFAULT.num_samples, 4)
      assert audio[fmt].dtype == np.int16
  assert multi / active >= 0.2, (multi, active)
  assert same_class > 0


def test_default_scenes_stay_in_their_ranges(default_scenes):
  tables = [t for _, t in default_scenes]
  classes = set(np.concatenate([t.class_index for t in tables]).tolist())
  assert len(classes) >= 8  # all 13 over many scenes: see the next test
  for t in tables:
    assert t.num_frames == DEFAULT.num_frames
    assert t.frame.min() >= 0 and t.frame.max() < DEFAULT.num_frames
    assert np.all((t.azimuth >= -180) & (t.azimuth < 180))
    assert np.all(np.abs(t.elevation) <= 45)
    assert np.all((t.distance >= 0.3) & (t.distance <= 5.0))
    assert np.all(t.azimuth == np.round(t.azimuth))
    assert np.all(t.distance * 100 == pytest.approx(np.round(t.distance * 100)))
  # Static and moving events: some (class, source) runs change azimuth.
  moving = static = 0
  for t in tables:
    for key in set(zip(t.class_index.tolist(), t.source.tolist())):
      rows = (t.class_index == key[0]) & (t.source == key[1])
      if np.ptp(t.azimuth[rows]) > 0:
        moving += 1
      else:
        static += 1
  assert moving > 0 and static > 0


def test_classes_share_active_time_evenly():
  """Short-event classes come more often, so each gets a similar active time."""
  config = dataclasses.replace(DEFAULT, duration=60.0)
  fs = config.sample_rate
  rng = np.random.default_rng(0)
  seconds, counts = np.zeros(13), np.zeros(13)

  def make(cls, _):
    return np.ones(int(sources.MEAN_SECONDS[cls] * fs), np.float32)

  # 200 scenes: about 150 events of the rarest class (sampling noise of
  # the ratio below ~0.15).
  for _ in range(200):
    for ev in scenes.sample_events(config, rng, config.num_samples, make):
      seconds[ev.class_index] += ev.num_samples / fs
      counts[ev.class_index] += 1
  assert np.all(counts > 0)
  # (count-balanced drawing would give 6x between music and door)
  assert seconds.max() / seconds.min() < 1.7, seconds
  # door (0.9 s) is drawn about 6x as often as music (5.4 s).
  assert 4.0 < counts[7] / counts[8] < 8.0, counts


def test_event_durations_are_realistic():
  config = dataclasses.replace(DEFAULT, duration=60.0, reverb=False)
  for seed in range(2):
    _, table = render.render_scene(
        dataclasses.replace(config, formats=('foa',)), seed
    )
    frames = table.sorted()
    keys = np.stack([frames.class_index, frames.source], 1)
    order = np.lexsort((frames.frame, frames.source, frames.class_index))
    k, f = keys[order], frames.frame[order]
    breaks = np.nonzero(np.any(k[1:] != k[:-1], 1) | (np.diff(f) > 1))[0]
    lengths = np.diff(np.concatenate([[-1], breaks, [len(f) - 1]]))
    # 0.5-8 s events; the scene end may cut the last ones short.
    assert lengths.max() <= 80
    assert np.median(lengths) >= 10


def test_render_scene_is_deterministic():
  config = dataclasses.replace(DEFAULT, duration=6.0)
  a1, t1 = render.render_scene(config, 7)
  a2, t2 = render.render_scene(config, 7)
  a3, _ = render.render_scene(config, 8)
  for fmt in config.formats:
    np.testing.assert_array_equal(a1[fmt], a2[fmt])
    assert not np.array_equal(a1[fmt], a3[fmt])
  assert t1.equals(t2)
  # A single format renders the same samples as both together.
  a4, _ = render.render_scene(dataclasses.replace(config, formats=('mic',)), 7)
  np.testing.assert_array_equal(a4['mic'], a1['mic'])


def _tree(root):
  return sorted(
      str(p.relative_to(root))
      for p in pathlib.Path(root).rglob('*')
      if p.is_file()
  )


def test_cli_layout_and_in_memory_equivalence(tmp_path):
  out = tmp_path / 'ds'
  argv = [
      '--out',
      str(out),
      '--num-train',
      '3',
      '--num-test',
      '2',
      '--duration',
      '3',
      '--seed',
      '5',
      '--video',
      '--workers',
      '1',
      '--quiet',
  ]
  assert cli.main(argv) == 0
  names = {
      'dev-train-synth': [
          'fold1_room1_mix001',
          'fold1_room2_mix001',
          'fold1_room3_mix001',
      ],
      'dev-test-synth': ['fold2_room5_mix001', 'fold2_room6_mix001'],
  }
  expected = sorted(
      f'{top}/{sub}/{name}.{ext}'
      for sub, stems in names.items()
      for name in stems
      for top, ext in (
          ('foa_dev', 'wav'),
          ('mic_dev', 'wav'),
          ('metadata_dev', 'csv'),
          ('video_dev', 'mp4'),
      )
  )
  assert _tree(out) == expected  # no temporary files left either
  config = dataclasses.replace(
      DEFAULT, num_train=3, num_test=2, duration=3.0, seed=5, video=True
  )
  job = render.scene_plan(config)[3]
  assert job.name == 'fold2_room5_mix001'
  audio, table = render.render_job(config, job)
  for fmt in ('foa', 'mic'):
    path = out / f'{fmt}_dev' / 'dev-test-synth' / f'{job.name}.wav'
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (
        24000,
        4,
        'PCM_16',
    )
    data, _ = soundfile.read(str(path), dtype='int16')
    np.testing.assert_array_equal(data, audio[fmt])
  csv = out / 'metadata_dev' / 'dev-test-synth' / f'{job.name}.csv'
  lines = csv.read_text().splitlines()
  assert all(len(line.split(',')) == 6 for line in lines)
  assert all(v.lstrip('-').isdigit() for line in lines for v in line.split(','))
  read = formats.read_metadata(csv, 'starss23')
  assert read.equals(table)


def test_dataset_identical_across_runs_and_workers(tmp_path):
  config = dataclasses.replace(
      DEFAULT, num_train=2, num_test=1, duration=3.0, seed=11, video=True
  )
  render.render_dataset(tmp_path / 'a', config, workers=1, progress=False)
  render.render_dataset(tmp_path / 'b', config, workers=2, progress=False)
  tree = _tree(tmp_path / 'a')
  assert tree == _tree(tmp_path / 'b') and len(tree) == 12
  videos = [rel for rel in tree if rel.endswith('.mp4')]
  assert len(videos) == 3
  for rel in tree:
    a, b = tmp_path / 'a' / rel, tmp_path / 'b' / rel
    if rel in videos:
      # x264 (single-threaded, same input) is byte-identical in all but about
      # one file in a hundred, where the first picture's coding differs and
      # the decoded frames by 2 levels in 0.03 % of values (see
      # `video.write_mp4`). A rendering difference (a blob pixel moved or
      # recoloured) changes values by tens of levels.
      frames_a, frames_b = video.read_mp4(a), video.read_mp4(b)
      assert frames_a.shape == frames_b.shape == (90, 160, 320, 3), rel
      diff = np.abs(frames_a.astype(np.int16) - frames_b.astype(np.int16))
      assert diff.max() <= 6 and np.mean(diff > 0) < 1e-2, rel
    else:
      assert a.read_bytes() == b.read_bytes(), rel


def test_sources_dir_uses_real_clips(shared_data, tmp_path, caplog):
  clips = shared_data('class_clips')
  library = sources.load_library(str(clips), 24000.0)
  assert sorted(library.clips) == [0, 1, 2, 3, 4, 7, 8, 9, 10]
  assert library.procedural_classes == (5, 6, 11, 12)
  # The mp3 music clips decode (~30 s each at 24 kHz).
  assert min(len(c) for c in library.clips[8]) > 20 * 24000
  segment = library.sample(8, np.random.default_rng(0))
  assert 3 * 24000 <= len(segment) <= 8 * 24000
  # The segment is a (normalised) excerpt of one of the clips.
  head = segment[1000:3000]
  best = 0.0
  for clip in library.clips[8]:
    corr = np.correlate(clip, head, 'valid')
    energy = np.sqrt(np.convolve(clip**2, np.ones(len(head)), 'valid'))
    best = max(best, np.max(corr / (energy * np.linalg.norm(head) + 1e-12)))
  assert best > 0.999
  caplog.set_level(logging.INFO)
  out = tmp_path / 'real'
  argv = [
      '--out',
      str(out),
      '--num-train',
      '1',
      '--num-test',
      '0',
      '--duration',
      '4',
      '--formats',
      'foa',
      '--sources',
      str(clips),
      '--workers',
      '1',
      '--quiet',
  ]
  assert cli.main(argv) == 0
  assert (
      'procedural sources for the classes without a folder: '
      'domestic_sounds, footsteps, bell, knock'
  ) in caplog.text
  assert _tree(out) == [
      'foa_dev/dev-train-synth/fold1_room1_mix001.wav',
      'metadata_dev/dev-train-synth/fold1_room1_mix001.csv',
  ]


@pytest.mark.parametrize(
    'extra',
    [
        ['--formats', 'foa,xyz'],
        ['--formats', 'foa,foa'],
        ['--num-train', '-1'],
        ['--num-train', '0', '--num-test', '0'],
        ['--duration', '0.5'],
        ['--duration', 'long'],
        ['--sources', '/nonexistent/clips'],
        ['--rt60', '0.5'],
        ['--rt60', '0.9,0.2'],
        ['--snr', 'a,b'],
        ['--video-size', '321x160'],
        ['--workers', '0'],
    ],
)
def test_cli_rejects_bad_arguments(tmp_path, capsys, extra):
  with pytest.raises(SystemExit) as exc:
    cli.main(['--out', str(tmp_path / 'x')] + extra)
  assert exc.value.code == 2
  assert 'error' in capsys.readouterr().err
  assert not (tmp_path / 'x').exists()


def test_cli_requires_out(capsys):
  with pytest.raises(SystemExit) as exc:
    cli.main([])
  assert exc.value.code == 2
  assert '--out' in capsys.readouterr().err


def test_config_validation():
  with pytest.raises(ValueError, match='max_polyphony'):
    render.SynthConfig(max_polyphony=4)
  with pytest.raises(ValueError, match='elevation_range'):
    render.SynthConfig(elevation_range=(-100.0, 0.0))
  with pytest.raises(ValueError, match='classes'):
    render.SynthConfig(classes=(13,))


def test_atomic_write_leaves_nothing_on_interrupt(tmp_path):
  target = tmp_path / 'sub' / 'file.wav'
  with pytest.raises(KeyboardInterrupt), files.atomic_path(target) as tmp:
    with open(tmp, 'wb') as f:
      f.write(b'partial')
    raise KeyboardInterrupt
  assert not target.exists()
  assert os.listdir(tmp_path / 'sub') == []
  render.write_wav(target, np.zeros((10, 4), np.int16), 24000)
  assert os.listdir(tmp_path / 'sub') == ['file.wav']
