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

"""The torch-free checkpoint reader against `torch.load`, in every format.

torch writes the zip and legacy formats (`_use_new_zipfile_serialization=
False`); the reader must return exactly `torch.load`'s tensors for several
dtypes, strided views, storages shared by several tensors, parameters and
wrapped state_dicts. torch >= 1.0 writes neither pre-1.0 storage views in
legacy files nor the tar format any more, but still reads both: those files
are written here by hand, byte for byte as the old `torch.save`, and checked
against `torch.load` too. Truncated, corrupt and foreign files must fail with
a `CheckpointError` naming the file.
"""

import collections
import io
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest
import torch

from seld_jax.convert import torch_checkpoint

_SYS_INFO = {
    'protocol_version': 1001,
    'little_endian': True,
    'type_sizes': {'short': 2, 'int': 4, 'long': 8},
}


def _state_dict():
  g = torch.Generator().manual_seed(0)
  base = torch.arange(24, dtype=torch.float32)
  sd = collections.OrderedDict()
  sd['conv.weight'] = torch.nn.Parameter(torch.randn(4, 3, 2, 2, generator=g))
  sd['half'] = torch.randn(3, 5, generator=g).half()
  sd['bf16'] = torch.randn(7, generator=g).bfloat16()
  sd['double'] = torch.randn(2, 2, generator=g).double()
  sd['long'] = torch.arange(-3, 9).reshape(3, 4)
  sd['int'] = torch.tensor([1, -2, 2**31 - 1], dtype=torch.int32)
  sd['byte'] = torch.tensor([0, 7, 255], dtype=torch.uint8)
  sd['char'] = torch.tensor([-128, 5], dtype=torch.int8)
  sd['mask'] = torch.tensor([[True, False], [False, True]])
  sd['bn.num_batches_tracked'] = torch.tensor(12)  # 0-d
  sd['empty'] = torch.zeros(0, 3)
  # Four views of one storage: strided, transposed, offset, whole.
  sd['shared.every_third'] = base[1::3]
  sd['shared.transposed'] = base.view(4, 6).t()
  sd['shared.block'] = base.view(4, 6)[1:3, 2:5]
  sd['shared.all'] = base
  return sd


def _expected(value: torch.Tensor) -> np.ndarray:
  value = value.detach()
  if value.dtype == torch.bfloat16:  # Read as float32 (exactly).
    value = value.float()
  return value.numpy()


def _assert_same(ours, theirs):
  assert list(ours) == list(theirs)
  for key, value in theirs.items():
    want = _expected(value)
    assert ours[key].dtype == want.dtype, key
    assert ours[key].shape == want.shape, key
    np.testing.assert_array_equal(ours[key], want, err_msg=key)


def _save(obj, path, legacy):
  torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
  assert zipfile.is_zipfile(path) != legacy


@pytest.mark.parametrize('legacy', [True, False], ids=['legacy', 'zip'])
@pytest.mark.parametrize('wrapper', [None, 'state_dict', 'model'])
def test_reads_what_torch_load_reads(tmp_path, legacy, wrapper):
  sd = _state_dict()
  obj = sd
  if wrapper:
    optimizer = {'state': {0: {'momentum': torch.ones(3)}}, 'lr': 0.1}
    obj = {wrapper: sd, 'epoch': 3, 'optimizer': optimizer}
  path = tmp_path / 'ckpt.pt'
  _save(obj, path, legacy)
  theirs = torch.load(path, weights_only=False)
  if wrapper:
    theirs = theirs[wrapper]
  _assert_same(torch_checkpoint.load_state_dict(path), theirs)
  # And torch.load gave back what was saved.
  _assert_same(torch_checkpoint.load_state_dict(path), sd)


@pytest.mark.parametrize('legacy', [True, False], ids=['legacy', 'zip'])
def test_module_state_dict_with_parameters(tmp_path, legacy):
  torch.manual_seed(0)
  net = torch.nn.Sequential(
      torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Linear(4, 2)
  )
  net[1].running_mean.uniform_()
  path = tmp_path / 'net.pt'
  # keep_vars: the values are nn.Parameters (pickled via _rebuild_parameter).
  _save(net.state_dict(keep_vars=True), path, legacy)
  ours = torch_checkpoint.load_state_dict(path)
  assert list(ours) == [
      '0.weight',
      '0.bias',
      '1.weight',
      '1.bias',
      '1.running_mean',
      '1.running_var',
      '1.num_batches_tracked',
      '2.weight',
      '2.bias',
  ]
  _assert_same(ours, net.state_dict())


def test_legacy_cuda_storage_names(tmp_path):
  # A GPU-side legacy save names `torch.cuda.FloatStorage` (location 'cuda:0').
  sd = collections.OrderedDict(w=torch.arange(6.0).reshape(2, 3))
  buf = io.BytesIO()
  torch.save(sd, buf, _use_new_zipfile_serialization=False)
  data = buf.getvalue()
  assert data.count(b'ctorch\nFloatStorage') == 1
  path = tmp_path / 'cuda.pt'
  path.write_bytes(
      data.replace(b'ctorch\nFloatStorage', b'ctorch.cuda\nFloatStorage')
  )
  _assert_same(torch_checkpoint.load_state_dict(path), sd)


# Hand-written files in the formats torch no longer writes
# ---


class _Storage:
  """A storage to pickle as the persistent id `pid`."""

  def __init__(self, pid):
    self.pid = pid


class _Tensor:
  """Pickles as torch's `_rebuild_tensor_v2` (or the older 4-arg one)."""

  def __init__(self, storage, offset, size, stride, v2=True):
    self.args = (storage, offset, size, stride)
    self.v2 = v2

  def __reduce__(self):
    if self.v2:
      hooks = collections.OrderedDict()
      return torch._utils._rebuild_tensor_v2, (*self.args, False, hooks)
    return torch._utils._rebuild_tensor, self.args


class _Pickler(pickle.Pickler):

  def persistent_id(self, obj):
    return obj.pid if isinstance(obj, _Storage) else None


def _storage_bytes(array: np.ndarray) -> bytes:
  return struct.pack('<q', array.size) + array.tobytes()


def _write_legacy_with_views(path):
  """A torch 0.x-style legacy file whose tensors sit on storage views."""
  root = np.arange(10, dtype=np.float32)
  pid = ('storage', torch.FloatStorage, 'root', 'cpu', 10, None)
  view = ('storage', torch.FloatStorage, 'root', 'cpu', 10, ('v', 2, 5))
  obj = collections.OrderedDict(
      whole=_Tensor(_Storage(pid), 0, (2, 5), (5, 1)),
      # Elements 1 and 3 of the view root[2:7]: root[3], root[5].
      on_view=_Tensor(_Storage(view), 1, (2,), (2,), v2=False),
  )
  buf = io.BytesIO()
  for header in (torch_checkpoint.MAGIC_NUMBER, 1001, _SYS_INFO):
    pickle.dump(header, buf, protocol=2)
  _Pickler(buf, protocol=2).dump(obj)
  pickle.dump(['root'], buf, protocol=2)
  buf.write(_storage_bytes(root))
  path.write_bytes(buf.getvalue())


def test_legacy_storage_views(tmp_path):
  path = tmp_path / 'views.pt'
  _write_legacy_with_views(path)
  ours = torch_checkpoint.load_state_dict(path)
  np.testing.assert_array_equal(ours['on_view'], [3.0, 5.0])
  _assert_same(ours, torch.load(path, weights_only=False))


def _tar_member(tar, name, data):
  info = tarfile.TarInfo(name)
  info.size = len(data)
  tar.addfile(info, io.BytesIO(data))


def _write_tar(path):
  """The torch < 0.1.10 tar layout (see torch.serialization.legacy_load)."""
  floats = np.arange(12, dtype=np.float32) / 4
  longs = np.array([5, -6, 7], dtype=np.int64)
  storages = io.BytesIO()
  pickle.dump(2, storages, protocol=2)
  for key, array, kind in (
      (1, floats, torch.FloatStorage),
      (2, longs, torch.LongStorage),
  ):
    pickle.dump((key, 'cpu', kind), storages, protocol=2)
    storages.write(_storage_bytes(array))
  pickle.dump([(3, 1, 4, 6)], storages, protocol=2)  # 3 = floats[4:10].
  tensors = io.BytesIO()
  layouts = [  # key, storage, type, size, stride, offset
      (10, 1, torch.FloatTensor, (3, 4), (4, 1), 0),
      (11, 1, torch.FloatTensor, (4, 3), (1, 4), 0),  # transposed
      (12, 3, torch.FloatTensor, (3,), (2,), 1),  # on the view
      (13, 2, torch.LongTensor, (3,), (1,), 0),
  ]
  pickle.dump(len(layouts), tensors, protocol=2)
  for key, storage, kind, size, stride, offset in layouts:
    pickle.dump((key, storage, kind), tensors, protocol=2)
    tensors.write(struct.pack('<ii', len(size), 0))
    tensors.write(struct.pack(f'<{2 * len(size) + 1}q', *size, *stride, offset))

  class TensorPickler(pickle.Pickler):

    def persistent_id(self, obj):
      return str(obj) if isinstance(obj, int) and obj >= 10 else None

  obj = collections.OrderedDict(a=10, a_t=11, on_view=12, long=13)
  body = io.BytesIO()
  TensorPickler(body, protocol=2).dump(obj)
  with tarfile.open(path, 'w', format=tarfile.PAX_FORMAT) as tar:
    _tar_member(tar, 'sys_info', pickle.dumps(_SYS_INFO, protocol=2))
    _tar_member(tar, 'pickle', body.getvalue())
    _tar_member(tar, 'tensors', tensors.getvalue())
    _tar_member(tar, 'storages', storages.getvalue())


def test_tar_format(tmp_path):
  path = tmp_path / 'old.tar.pt'
  _write_tar(path)
  ours = torch_checkpoint.load_state_dict(path)
  np.testing.assert_array_equal(ours['on_view'], [1.25, 1.75, 2.25])
  np.testing.assert_array_equal(ours['a_t'], ours['a'].T)
  assert ours['long'].dtype == np.int64
  _assert_same(ours, torch.load(path, weights_only=False))


# Bad files
# ---


def _legacy_file(tmp_path):
  path = tmp_path / 'legacy.pt'
  sd = collections.OrderedDict(a=torch.arange(8.0), b=torch.ones(3, 3))
  _save(sd, path, legacy=True)
  return path, path.read_bytes()


def _storage_data_start(data: bytes) -> int:
  """The offset of the first storage's element count in a legacy file."""

  class Skipper(pickle.Unpickler):

    def find_class(self, module, name):
      if module == 'collections':
        return collections.OrderedDict
      return lambda *args: None

    def persistent_load(self, pid):
      return None

  f = io.BytesIO(data)
  for _ in range(3):
    pickle.load(f)  # magic number, version, sys_info
  Skipper(f).load()
  pickle.load(f)  # storage keys
  return f.tell()


@pytest.mark.parametrize(
    'cut', ['header', 'object', 'keys', 'count', 'storage']
)
def test_truncated_legacy_file(tmp_path, cut):
  path, data = _legacy_file(tmp_path)
  start = _storage_data_start(data)
  end = {
      'header': 20,  # in the protocol version
      'object': start // 2,
      'keys': start - 3,
      'count': start + 5,
      'storage': len(data) - 1,
  }[cut]
  path.write_bytes(data[:end])
  with pytest.raises(torch_checkpoint.CheckpointError, match='truncated') as e:
    torch_checkpoint.load_state_dict(path)
  assert str(path) in str(e.value)


def test_storage_count_disagreeing_with_the_pickle(tmp_path):
  path, data = _legacy_file(tmp_path)
  start = _storage_data_start(data)
  (count,) = struct.unpack('<q', data[start : start + 8])
  path.write_bytes(
      data[:start] + struct.pack('<q', count + 1) + data[start + 8 :]
  )
  with pytest.raises(
      torch_checkpoint.CheckpointError, match=f'holds {count + 1} elements'
  ) as e:
    torch_checkpoint.load_state_dict(path)
  assert str(path) in str(e.value)


def test_tensor_past_its_storage(tmp_path):
  path = tmp_path / 'overrun.pt'
  storage = ('storage', torch.FloatStorage, '0', 'cpu', 4, None)
  obj = {'w': _Tensor(_Storage(storage), 2, (2, 2), (2, 1))}
  buf = io.BytesIO()
  for header in (torch_checkpoint.MAGIC_NUMBER, 1001, _SYS_INFO):
    pickle.dump(header, buf, protocol=2)
  _Pickler(buf, protocol=2).dump(obj)
  pickle.dump(['0'], buf, protocol=2)
  buf.write(_storage_bytes(np.zeros(4, np.float32)))
  path.write_bytes(buf.getvalue())
  with pytest.raises(torch_checkpoint.CheckpointError, match='reaches past'):
    torch_checkpoint.load_state_dict(path)


@pytest.mark.parametrize('legacy', [True, False], ids=['legacy', 'zip'])
def test_refuses_arbitrary_globals(tmp_path, legacy):
  path = tmp_path / 'evil.pt'
  _save({'w': torch.zeros(2), 'f': np.random.default_rng}, path, legacy)
  with pytest.raises(torch_checkpoint.CheckpointError, match='refusing'):
    torch_checkpoint.load_state_dict(path)


@pytest.mark.parametrize(
    'content',
    [
        b'',
        b'not a checkpoint',
        np.random.default_rng(0).bytes(3000),
        pickle.dumps({'w': [1.0, 2.0]}),
    ],
    ids=['empty', 'text', 'random', 'plain_pickle'],
)
def test_foreign_files(tmp_path, content):
  path = tmp_path / 'foreign.pt'
  path.write_bytes(content)
  with pytest.raises(
      torch_checkpoint.CheckpointError,
      match='not a zip-format, legacy or tar-format PyTorch checkpoint',
  ) as e:
    torch_checkpoint.load_state_dict(path)
  assert str(path) in str(e.value)


def test_missing_file(tmp_path):
  with pytest.raises(torch_checkpoint.CheckpointError, match='not found'):
    torch_checkpoint.load_state_dict(tmp_path / 'absent.pt')


def test_zip_big_endian_byteorder_record(tmp_path):
  # A zip written on a big-endian host: `byteorder` says 'big'.
  sd = collections.OrderedDict(
      a=torch.arange(6.0).reshape(2, 3) - 2.5, b=torch.full((4,), 3.25)
  )
  little = tmp_path / 'little.pt'
  torch.save(sd, little)
  big = tmp_path / 'big.pt'
  with zipfile.ZipFile(little) as src, zipfile.ZipFile(big, 'w') as dst:
    for info in src.infolist():
      data = src.read(info)
      if info.filename.endswith('/byteorder'):
        assert data == b'little'
        data = b'big'
      elif '/data/' in info.filename:  # float32 storages
        data = np.frombuffer(data, '<f4').astype('>f4').tobytes()
      dst.writestr(info, data)
  theirs = torch.load(big)
  assert all(torch.equal(theirs[k], v) for k, v in sd.items())
  _assert_same(torch_checkpoint.load_state_dict(big), sd)


def test_tar_without_storages(tmp_path):
  path = tmp_path / 'partial.tar'
  with tarfile.open(path, 'w') as tar:
    _tar_member(tar, 'pickle', pickle.dumps({}, protocol=2))
  with pytest.raises(
      torch_checkpoint.CheckpointError, match='tar checkpoint without'
  ) as e:
    torch_checkpoint.load_state_dict(path)
  assert str(path) in str(e.value)
