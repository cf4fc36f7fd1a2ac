"""The Python client against `modelda node` on the embedded chain: tensors
byte-equal to what the `safetensors` and `gguf` packages read from the
original files, and a lying node refused."""

from __future__ import annotations

import http.server
import json
import os
import threading
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import modelda


def shards(world) -> list:
    return sorted(p for p in world.model.iterdir() if p.suffix == ".safetensors")


@pytest.fixture()
def client(world) -> modelda.Client:
    return modelda.Client(world.url, key=world.alice)


def test_every_tensor_is_byte_equal_to_what_safetensors_loads(world, client):
    m = client.model(world.model_id)
    assert m.id == world.model_id and m.pinned
    assert m.signer == modelda._core.key_hint(world.alice.read_text())
    assert [p["signerKey"] for p in m.publications] == [m.signer]
    count = 0
    for path in shards(world):
        want = safetensors.numpy.load_file(str(path))
        assert want, path
        for name, array in want.items():
            got = client.load_tensor(world.model_id, name)
            assert got.dtype == array.dtype and got.shape == array.shape, name
            assert got.tobytes() == array.tobytes(), name
            count += 1
        # The whole file, as safetensors.numpy.load_file returns it.
        whole = client.load_file(world.model_id, path.name)
        assert sorted(whole) == sorted(want)
        assert all(whole[k].tobytes() == want[k].tobytes() and whole[k].shape == want[k].shape for k in want)
    assert count >= 2
    assert len(m.tensors()) >= count
    # Some tensor spans leaves, and some starts inside one.
    spans = [
        (t["start"] // f["leaf_size"], (t["end"] - 1) // f["leaf_size"], t["start"] % f["leaf_size"])
        for f in m.files
        for t in f.get("tensors", [])
        if t["end"] > t["start"]
    ]
    assert any(last > first for first, last, _ in spans), spans
    assert any(offset > 0 for _, _, offset in spans), spans


def test_gguf_tensors_match_the_gguf_package(world, client):
    import gguf

    path = next(p for p in world.model.iterdir() if p.suffix == ".gguf")
    reader = gguf.GGUFReader(str(path))
    raw = path.read_bytes()
    checked = set()
    for t in reader.tensors:
        start = int(t.data_offset)
        data = raw[start : start + int(t.n_bytes)]
        # Every tensor's verified bytes are the file's.
        assert client.load_tensor(world.model_id, t.name, framework="bytes", file=path.name) == data
        if t.tensor_type == gguf.GGMLQuantizationType.F32:
            got = client.load_tensor(world.model_id, t.name, file=path.name)
            assert got.shape == t.data.shape and got.tobytes() == t.data.tobytes(), t.name
            checked.add("F32")
        else:
            with pytest.raises(modelda.ModeldaError) as e:
                client.load_tensor(world.model_id, t.name, file=path.name)
            assert e.value.code == "UNSUPPORTED_DTYPE" and 'framework="bytes"' in str(e.value)
            checked.add("quantized")
    assert checked == {"F32", "quantized"}


def test_safe_open_reads_lazily_like_safetensors(world, client):
    path = shards(world)[0]
    with safetensors.safe_open(str(path), framework="np") as want, client.safe_open(
        world.model_id, path.name
    ) as got:
        assert got.keys() == list(want.keys())
        assert got.metadata() == want.metadata()
        name = got.keys()[-1]
        assert got.get_tensor(name).tobytes() == want.get_tensor(name).tobytes()
    with pytest.raises(modelda.ModeldaError) as e:
        client.safe_open(world.model_id)
    assert e.value.code == "BAD_INPUT" and path.name in str(e.value)


def test_download_is_verified_atomic_and_checks_what_is_there(world, client, tmp_path):
    one = client.download(world.model_id, "config.json", local_dir=tmp_path / "one")
    assert Path(one).read_bytes() == (world.model / "config.json").read_bytes()
    seen = []
    snap = Path(client.download(world.model_id, local_dir=tmp_path / "snap", progress=lambda d, t: seen.append((d, t))))
    total = sum(f["size"] for f in client.model(world.model_id).files)
    assert seen[-1] == (total, total) and all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    for f in client.model(world.model_id).files:
        assert modelda.b3sum(snap / f["path"]) == f["root"] == modelda.b3sum(world.model / f["path"])
    # The claims that checked, as signed.
    assert (snap / "model.claims.sig").read_bytes() == (world.model / "model.claims.sig").read_bytes()
    report = modelda.verify(snap, key=world.alice)
    assert report["model_id"] == world.model_id and report["key_pinned"]
    # The downloaded directory is refused with another pinned key, and once
    # a byte changes.
    with pytest.raises(modelda.KeyMismatchError):
        modelda.verify(snap, key=world.mallory)
    shard = snap / shards(world)[0].name
    b = bytearray(shard.read_bytes())
    b[len(b) // 2] ^= 1
    shard.write_bytes(bytes(b))
    with pytest.raises(modelda.VerificationError) as e:
        modelda.verify(snap)
    assert e.value.code == "TAMPERED" and shard.name in str(e.value)
    # Downloading again repairs the file whose root differs, and only it.
    kept = snap / "config.json"
    before = kept.stat().st_mtime_ns
    client.download(world.model_id, local_dir=snap)
    assert kept.stat().st_mtime_ns == before
    modelda.verify(snap, key=world.alice)
    assert not [p for p in snap.rglob("*.part")]
    # The original, as `modelda sign` wrote it (with model.sig), verifies too.
    modelda.verify(world.model, key=world.alice.read_text())


class Liar:
    """A node that forwards to the real one and lies as `mode` says."""

    def __init__(self, world) -> None:
        self.world = world
        self.mode = "honest"
        liar = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _forward(self, body=None) -> None:
                req = urllib.request.Request(world.url + self.path, data=body, method=self.command)
                if body is not None:
                    req.add_header("Content-Type", "application/json")
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, data = e.code, e.read()
                data = liar.lie(self.path, data)
                self.send_response(status)
                if liar.mode != "huge-unsized":
                    # (Without it, HTTP/1.0: the body ends when the
                    # connection closes.)
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers["Content-Length"])))

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                # A client that refuses an answer (TOO_LARGE) hangs up
                # while the liar still writes: expected, not an error.
                import sys

                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def lie(self, path: str, data: bytes) -> bytes:
        if path.startswith("/chunks/"):
            if self.mode == "flip-chunk":
                b = bytearray(data)
                b[len(b) // 3] ^= 0x40
                return bytes(b)
            if self.mode == "short-chunk":
                return data[:-1]
            if self.mode in ("huge-chunk", "huge-unsized"):
                return data * ((9 << 20) // max(len(data), 1) + 1)
            return data
        if path != "/graphql" or self.mode in ("honest", "flip-chunk", "short-chunk"):
            return data
        answer = json.loads(data)
        for p in ((answer.get("data") or {}).get("model") or {}).get("publications") or []:
            if self.mode == "altered-claims":
                c = p["claims"]
                at = c.index('"payload"') + 40
                p["claims"] = c[:at] + ("A" if c[at] != "A" else "B") + c[at + 1 :]
            elif self.mode == "mallory-same":
                p["claims"] = self.world.mallory_same
            elif self.mode == "mallory-other":
                p["claims"] = self.world.mallory_other
            elif self.mode == "alice-other":
                p["claims"] = self.world.alice_other
        return json.dumps(answer).encode()


@pytest.fixture(scope="module")
def liar(world):
    l = Liar(world)
    yield l
    l.server.shutdown()


def tensor_name(world) -> str:
    return sorted(safetensors.numpy.load_file(str(shards(world)[0])))[0]


@pytest.mark.parametrize(
    "mode,code",
    [
        ("flip-chunk", "TAMPERED"),
        ("short-chunk", "TAMPERED"),
        ("altered-claims", None),
        ("mallory-same", "KEY_MISMATCH"),
        ("mallory-other", "KEY_MISMATCH"),
        ("alice-other", "CLAIMS_INVALID"),
    ],
)
def test_a_lying_node_is_refused(world, liar, tmp_path, mode, code):
    liar.mode = mode
    c = modelda.Client(liar.url, key=world.alice)
    with pytest.raises(modelda.VerificationError) as e:
        c.load_tensor(world.model_id, tensor_name(world))
    if code is None:
        assert e.value.code in ("BAD_SIGNATURE", "CLAIMS_INVALID"), e.value
    else:
        assert e.value.code == code, e.value
    # A download through the liar writes nothing and keeps what was there.
    dest = tmp_path / "dl"
    dest.mkdir()
    good = (world.model / shards(world)[0].name).read_bytes()
    (dest / shards(world)[0].name).write_bytes(b"previous")
    with pytest.raises(modelda.VerificationError):
        c.download(world.model_id, shards(world)[0].name, local_dir=dest, force=True)
    assert (dest / shards(world)[0].name).read_bytes() == b"previous"
    assert [p.name for p in dest.iterdir()] == [shards(world)[0].name]
    assert good != b"previous"


def test_an_answer_past_its_bound_is_refused_before_it_is_read(world, liar):
    # A leaf is at most 8 MiB: a 9 MiB answer is refused by its length, or,
    # without one, once 8 MiB and a byte have come.
    for mode in ("huge-chunk", "huge-unsized"):
        liar.mode = mode
        c = modelda.Client(liar.url, key=world.alice)
        with pytest.raises(modelda.ModeldaError) as e:
            c.load_tensor(world.model_id, tensor_name(world))
        assert e.value.code == "TOO_LARGE", (mode, e.value)
    liar.mode = "honest"


def test_unpinned_reads_check_integrity_and_warn(world, liar):
    # Without a pinned key, Mallory's claims of the same bytes are accepted
    # (integrity, not identity), with a warning naming his key; his claims
    # of other bytes are not the asked model's.
    liar.mode = "mallory-same"
    c = modelda.Client(liar.url)
    with pytest.warns(modelda.UnpinnedKeyWarning, match="pin the publisher's key"):
        got = c.load_tensor(world.model_id, tensor_name(world))
    assert got.tobytes() == safetensors.numpy.load_file(str(shards(world)[0]))[tensor_name(world)].tobytes()
    assert c.model(world.model_id).signer == modelda._core.key_hint(world.mallory.read_text())
    liar.mode = "mallory-other"
    with pytest.raises(modelda.VerificationError) as e:
        modelda.Client(liar.url).load_tensor(world.model_id, tensor_name(world))
    assert e.value.code == "CLAIMS_INVALID" and "for model" in str(e.value)
    liar.mode = "honest"


def test_a_pinned_key_that_does_not_match_is_refused(world):
    c = modelda.Client(world.url, key=world.mallory)
    with pytest.raises(modelda.KeyMismatchError) as e:
        c.load_tensor(world.model_id, tensor_name(world))
    assert e.value.code == "KEY_MISMATCH" and c.key_hint in str(e.value)


def test_errors_say_what_and_carry_codes(world, client, tmp_path):
    with pytest.raises(modelda.NotFoundError) as e:
        client.model("00" * 32)
    assert e.value.code == "NOT_FOUND"
    with pytest.raises(modelda.NotFoundError) as e:
        client.load_tensor(world.model_id, "no.such.tensor")
    assert e.value.code == "NOT_FOUND" and "no.such.tensor" in str(e.value)
    with pytest.raises(modelda.ModeldaError) as e:
        client.model("not-hex")
    assert e.value.code == "BAD_INPUT"
    with pytest.raises(modelda.ModeldaError) as e:
        client.load_tensor(world.model_id, tensor_name(world), framework="tf")
    assert e.value.code == "BAD_INPUT"
    # Nothing listens there.
    dead = modelda.Client("http://127.0.0.1:9", timeout=2, retries=1)
    with pytest.raises(modelda.ModeldaError) as e:
        dead.model(world.model_id)
    assert e.value.code == "UNREACHABLE" and "modelda node" in str(e.value)
    with pytest.raises(modelda.NotFoundError):
        modelda.Client(world.url, key=tmp_path / "missing.pem")
    with pytest.raises(modelda.ModeldaError) as e:
        modelda.Client(world.url, key="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    assert e.value.code == "BAD_INPUT"
    with pytest.raises(modelda.ModeldaError) as e:
        modelda.Client("localhost:8700")
    assert e.value.code == "BAD_INPUT"
    with pytest.raises(modelda.NotFoundError):
        modelda.verify(tmp_path)


def test_a_shape_that_is_not_the_bytes_is_refused():
    # Claims signed by a stranger's key may say any shape: it must describe
    # exactly the tensor's bytes.
    from modelda import _arrays

    ok = _arrays.to_array(np.arange(6, dtype="<f4").view(np.uint8), "F32", [2, 3], "safetensors", "np")
    assert ok.shape == (2, 3) and ok[1, 2] == 5
    for shape in ([4], [2, 4], [-2, -3], [1 << 62, 4]):
        with pytest.raises(modelda.VerificationError) as e:
            _arrays.to_array(np.zeros(24, dtype=np.uint8), "F32", shape, "safetensors", "np")
        assert e.value.code == "CLAIMS_INVALID"
    # GGUF dimensions are reversed, as the gguf package reads them.
    g = _arrays.to_array(np.arange(6, dtype="<f4").view(np.uint8), "F32", [3, 2], "gguf", "np")
    assert g.shape == (2, 3)


def test_torch_tensors_if_torch_is_installed(world, client):
    torch = pytest.importorskip("torch")
    name = tensor_name(world)
    got = client.load_tensor(world.model_id, name, framework="pt")
    want = safetensors.numpy.load_file(str(shards(world)[0]))[name]
    assert isinstance(got, torch.Tensor) and tuple(got.shape) == want.shape
    assert got.numpy().tobytes() == want.tobytes()


def test_the_core_needs_no_server_code():
    # The wheel's native module is the checks alone: no RocksDB, no server.
    import modelda._core as core

    so = Path(core.__file__).read_bytes()
    for needle in (b"rocksdb", b"axum", b"async_graphql", b"tokio"):
        assert needle not in so.lower(), needle


def wait_for(what, check, seconds: float = 120.0):
    import time

    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come in {seconds} s")
        time.sleep(0.3)


def test_advisories_are_judged_here_and_refuse_on_request(world, tmp_path):
    # Last in this file: Mallory's report stays on the shared model.
    import subprocess

    from conftest import SAMPLE, modelda as run

    subprocess.run([str(SAMPLE), str(world.root / "second"), str(1 << 20)], check=True, capture_output=True)
    second = run(world.root, "publish", "second", "--key", "alice.pem")["model_id"]
    run(world.root, "advise", second, "--key", "alice.pem", "--status", "revoked", "--summary", "do not use")
    run(world.root, "advise", world.model_id, "--key", "mallory.pem", "--status", "poisoned-data", "--summary", "a report")
    name = sorted(safetensors.numpy.load_file(str(next((world.root / "second").glob("*.safetensors")))))[0]

    c = modelda.Client(world.url, key=world.alice)
    found = wait_for("the revocation", lambda: c.advisories(second) if _indexed(c, second) else None)
    assert [(a["status"], a["standing"], a["believed"], a["denies"]) for a in found] == [
        ("revoked", "publisher", True, True)
    ]
    with pytest.warns(modelda.AdvisoryWarning, match="revoked"):
        c.load_tensor(second, name)
    deny = modelda.Client(world.url, key=world.alice, deny_advisories=True)
    with pytest.raises(modelda.AdvisoryError) as e:
        deny.load_tensor(second, name)
    assert e.value.code == "DENIED_BY_ADVISORY" and "revoked" in str(e.value)
    with pytest.raises(modelda.AdvisoryError):
        deny.download(second, local_dir=tmp_path / "dl")
    assert not (tmp_path / "dl").exists()

    # Mallory's report about Alice's model: checked, listed, not believed.
    report = wait_for("the report", lambda: deny.advisories(world.model_id))
    assert [(a["standing"], a["believed"], a["denies"]) for a in report] == [("third_party", False, False)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", modelda.AdvisoryWarning)
        deny.load_tensor(world.model_id, tensor_name(world))
    # A reader who trusts Mallory's key believes it.
    trusting = modelda.Client(world.url, key=world.alice, deny_advisories=True, trust_advisories_from=[world.mallory])
    with pytest.raises(modelda.AdvisoryError) as e:
        trusting.load_tensor(world.model_id, tensor_name(world))
    assert "poisoned-data" in str(e.value) and "trusted" in str(e.value)


def _indexed(c: modelda.Client, model_id: str) -> bool:
    try:
        c.signed(model_id)
        return True
    except modelda.NotFoundError:
        return False
