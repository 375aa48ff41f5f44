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

"""Tests for seld_jax.huge_pages: the environment, the re-exec, the effect."""

import os
import subprocess
import sys
import textwrap

import pytest

from seld_jax import huge_pages

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLIBC = (2, 36)


def test_environment_adds_the_tunable_where_it_acts():
  env = {'PATH': '/bin'}
  out = huge_pages.environment(env, glibc=GLIBC, mode='madvise')
  assert out == {'PATH': '/bin', 'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=1'}
  assert env == {'PATH': '/bin'}  # not modified
  out = huge_pages.environment(
      {'GLIBC_TUNABLES': 'glibc.malloc.arena_max=2'},
      glibc=(2, 35),
      mode='madvise',
  )
  assert out['GLIBC_TUNABLES'] == (
      'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1'
  )


@pytest.mark.parametrize(
    'env, glibc, mode',
    [
        ({huge_pages.OPT_OUT: '0'}, GLIBC, 'madvise'),
        ({huge_pages.OPT_OUT: 'off'}, GLIBC, 'madvise'),
        ({'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=0'}, GLIBC, 'madvise'),
        ({'GLIBC_TUNABLES': 'a.b=1:glibc.malloc.hugetlb=1'}, GLIBC, 'madvise'),
        ({}, (2, 34), 'madvise'),  # before the tunable existed
        ({}, GLIBC, 'always'),  # every mapping gets huge pages already
        ({}, GLIBC, 'never'),
    ],
)
def test_environment_is_none_where_it_would_not_act(env, glibc, mode):
  assert huge_pages.environment(env, glibc=glibc, mode=mode) is None


def test_without_strips_the_tunable_and_opts_out():
  out = huge_pages.without(
      {'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=1:a.b=2', 'X': '1'}
  )
  assert out == {'GLIBC_TUNABLES': 'a.b=2', 'X': '1', huge_pages.OPT_OUT: '0'}
  out = huge_pages.without({'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=1'})
  assert out == {huge_pages.OPT_OUT: '0'}
  assert huge_pages.environment(out, glibc=GLIBC, mode='madvise') is None


def test_thp_mode_reads_the_bracketed_word(tmp_path):
  path = tmp_path / 'enabled'
  path.write_text('always [madvise] never\n')
  assert huge_pages.thp_mode(str(path)) == 'madvise'
  path.write_text('[always] madvise never\n')
  assert huge_pages.thp_mode(str(path)) == 'always'
  assert huge_pages.thp_mode(str(tmp_path / 'missing')) is None


def _clean_env(**extra):
  env = huge_pages.without(os.environ)
  del env[huge_pages.OPT_OUT]
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (REPO, os.environ.get('PYTHONPATH')) if p
  )
  env.update(extra)
  return env


SCRIPT = textwrap.dedent("""\
    import os, sys
    from seld_jax import huge_pages
    print('start', os.getpid(), os.environ.get('GLIBC_TUNABLES', '-'),
          flush=True)
    huge_pages.reexec()
    print('main', os.getpid(), os.environ.get('GLIBC_TUNABLES', '-'),
          *sys.argv[1:], flush=True)
""")


@pytest.mark.parametrize('opt_out', [False, True])
def test_reexec_runs_the_same_command_once_with_the_tunable(tmp_path, opt_out):
  script = tmp_path / 'entry.py'
  script.write_text(SCRIPT)
  env = _clean_env(**({huge_pages.OPT_OUT: '0'} if opt_out else {}))
  acts = huge_pages.environment(env) is not None
  lines = subprocess.run(
      [sys.executable, str(script), 'x', '--flag=1'],
      env=env,
      capture_output=True,
      text=True,
      check=True,
      timeout=120,
  ).stdout.splitlines()
  pid = lines[0].split()[1]
  if acts:  # this machine: glibc >= 2.35 with THP 'madvise'
    assert lines == [
        f'start {pid} -',
        f'start {pid} glibc.malloc.hugetlb=1',
        f'main {pid} glibc.malloc.hugetlb=1 x --flag=1',
    ]
  else:
    assert lines == [f'start {pid} -', f'main {pid} - x --flag=1']
  if opt_out:
    assert not acts


PROBE = textwrap.dedent("""\
    import ctypes
    def anon_huge_kb():
      with open('/proc/self/smaps_rollup') as f:
        for line in f:
          if line.startswith('AnonHugePages:'):
            return int(line.split()[1])
      return 0
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    before = anon_huge_kb()
    size = 64 << 20
    p = libc.malloc(ctypes.c_size_t(size))
    ctypes.memset(p, 1, size)
    print(anon_huge_kb() - before)
""")


def test_the_tunable_gives_mallocs_huge_pages():
  env = _clean_env()
  with_tunable = huge_pages.environment(env)
  if with_tunable is None:
    # Nothing to give: this machine cannot act on the tunable (the project
    # machines can: glibc 2.36, THP 'madvise'), and reexec leaves it be.
    glibc, mode = huge_pages.glibc_version(), huge_pages.thp_mode()
    assert glibc is None or glibc < (2, 35) or mode != 'madvise'
    return

  def huge_kb(e):
    out = subprocess.run(
        [sys.executable, '-c', PROBE],
        env=e,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(out.stdout.split()[-1])

  # A 64-MB malloc touched page by page: 4-KiB pages without the tunable
  # (THP 'madvise' mode), mostly 2-MiB pages with it.
  assert huge_kb(env) < 8 << 10
  assert huge_kb(with_tunable) >= 32 << 10
