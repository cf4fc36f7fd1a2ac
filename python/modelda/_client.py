"""A client of a modelda node: metadata over GraphQL, bytes from `/chunks`,
every byte checked by the native core before it is used."""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from . import _arrays
from ._core import (
    AdvisoryError,
    KeyMismatchError,
    ModeldaError,
    NotFoundError,
    RangeRead,
    SignedModel,
    VerificationError,
    advisory_selection,
    b3sum,
    judge_advisories,
    key_hint,
)

PathLike = Union[str, "os.PathLike[str]"]

#: The node `modelda node` serves by default.
DEFAULT_URL = "http://127.0.0.1:8700"

#: Largest leaf a commitment may name (8 MiB): a source's answer is
#: refused past it before it is read into memory.
MAX_LEAF_BYTES = 8 << 20

#: Largest GraphQL answer read (64 MiB).
MAX_ANSWER_BYTES = 64 << 20

#: The claims file `modelda sign` and `modelda fetch` write.
CLAIMS_NAME = "model.claims.sig"


class AdvisoryWarning(UserWarning):
    """A believed advisory applies to the model (its publisher's, a trusted
    key's, or an ancestor's through lineage); with `deny_advisories=True`
    the ones that deny raise `AdvisoryError` instead."""


#: Seconds a model's judged advisories are kept before the node is asked
#: again.
ADVISORY_TTL = 60.0


class UnpinnedKeyWarning(UserWarning):
    """The claims were checked with the key they carry: the bytes are the
    ones that key signed (integrity), but nothing says whose key it is.
    Pin the publisher's key: `Client(url, key=...)`."""


def error(cls: type, code: str, message: str) -> ModeldaError:
    """An exception of `cls` with `code` set."""
    e = cls(message)
    e.code = code
    return e


def read_key(key: Optional[Union[PathLike, bytes]]) -> Optional[str]:
    """A public key as PEM text: given as PEM (text or bytes) or as the
    path of a PEM file."""
    if key is None:
        return None
    if isinstance(key, bytes):
        return key.decode("ascii", "replace")
    text = os.fspath(key)
    if text.lstrip().startswith("-----BEGIN"):
        return text
    try:
        return Path(text).read_text(encoding="ascii", errors="replace")
    except OSError as e:
        raise error(NotFoundError, "NOT_FOUND", f"the key file {text}: {e.strerror}") from e


@dataclass
class Model:
    """A model as a node describes it. `files` and the tensors in them come
    from the signed manifest, checked; the rest is the node's word."""

    id: str
    name: str
    #: Hint of the key whose claims were checked (hex SHA-256 of its PEM).
    signer: str
    #: Whether that key was pinned (otherwise: the key the claims carry).
    pinned: bool
    #: The signed manifest's files: path, size, root, leaf_size, format,
    #: tensors (name, dtype, shape, start, end, blake3).
    files: List[Dict[str, Any]]
    card: Dict[str, Any] = field(default_factory=dict)
    training: Optional[Dict[str, Any]] = None
    #: Each signer's first record of it: id, height, record, layer, signerKey.
    publications: List[Dict[str, Any]] = field(default_factory=list)
    #: The parents it claims, with the node's evidence.
    parents: List[Dict[str, Any]] = field(default_factory=list)
    #: The believed advisory that decides its status, or None.
    status: Optional[Dict[str, Any]] = None
    #: Every advisory about it.
    advisories: List[Dict[str, Any]] = field(default_factory=list)
    #: Believed advisories of ancestors that reach it through lineage.
    affected_through: List[Dict[str, Any]] = field(default_factory=list)

    def tensors(self) -> List[Dict[str, Any]]:
        """Every tensor, each with its `file`."""
        return [dict(t, file=f["path"]) for f in self.files for t in f.get("tensors", [])]


_MODEL_QUERY = """
query($id: ID!) {
  model(id: $id) {
    id name training
    card { license baseModel baseModelRelation datasets }
    publications { id height record layer signerKey claims }
    parents { parentId relation status proven }
    status { status denies standing advisory { id summary signerKey } }
    advisories { id status standing stands signerKey summary published withdrawn }
    affectedThrough { path standing advisory { id status modelId summary } }
  }
}
"""


class Client:
    """A modelda node's API.

    `key` pins the publisher's public key (a PEM file's path, or PEM text):
    claims signed by any other key are refused. Without it, claims are
    checked with the key they carry and an `UnpinnedKeyWarning` says so.
    `timeout` bounds each request, in seconds (default 30); `concurrency`
    is how many leaves are fetched at once (default 4); `retries` is how
    many attempts a request gets when the node is unreachable, times out
    or says its layer is unavailable (default 3).

    Advisories: before it reads a model's bytes, the client asks the node
    which advisories apply and judges them itself (each statement checked
    with its key): believed are those signed by the key the model was
    verified with, by a key of `trust_advisories_from` (PEM files or
    text, one or more keys each), or, through lineage, by an ancestor's
    publisher. A believed one warns (`AdvisoryWarning`); with
    `deny_advisories=True`, a believed `revoked`, `compromised-key` or
    `poisoned-data` raises `AdvisoryError` before any byte is read.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        key: Optional[Union[PathLike, bytes]] = None,
        timeout: float = 30.0,
        concurrency: int = 4,
        retries: int = 3,
        trust_advisories_from: Optional[List[Union[PathLike, bytes]]] = None,
        deny_advisories: bool = False,
    ) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise error(ModeldaError, "BAD_INPUT", f"not a node URL: {url!r} (http://HOST:PORT)")
        self.url = url.rstrip("/")
        self.key = read_key(key)
        self.timeout = float(timeout)
        self.concurrency = max(1, int(concurrency))
        self.retries = max(1, int(retries))
        self._signed: Dict[str, SignedModel] = {}
        self._answers: Dict[str, Dict[str, Any]] = {}
        self._manifests: Dict[str, Dict[str, Any]] = {}
        self._claims: Dict[str, str] = {}
        #: Hint of the pinned key (raises now for a key that does not parse).
        self.key_hint = key_hint(self.key) if self.key is not None else None
        #: Hints of the keys whose advisories are believed about any model.
        self.trusted = [key_hint(pem) for k in trust_advisories_from or [] for pem in pem_blocks(read_key(k) or "")]
        self.deny_advisories = bool(deny_advisories)
        self._judged: Dict[str, Any] = {}
        self._warned: Dict[str, float] = {}

    def __repr__(self) -> str:
        return f"modelda.Client({self.url!r}, pinned={self.key is not None})"

    # -- HTTP ---------------------------------------------------------------

    def _get(self, path: str, limit: int, body: Optional[bytes] = None) -> bytes:
        """GET (or POST `body`) `path`, at most `limit` bytes, with retries
        on what may pass (unreachable, timeouts, an unavailable layer)."""
        last: Optional[ModeldaError] = None
        for attempt in range(self.retries):
            try:
                return self._once(path, limit, body)
            except ModeldaError as e:
                if getattr(e, "code", None) not in ("UNREACHABLE", "TIMEOUT", "LAYER_UNAVAILABLE"):
                    raise
                last = e
        assert last is not None
        raise last

    def _once(self, path: str, limit: int, body: Optional[bytes]) -> bytes:
        url = self.url + path
        req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                data = read_bounded(r, limit, url)
        except urllib.error.HTTPError as e:
            raise self._http_error(url, e) from None
        except (socket.timeout, TimeoutError) as e:
            raise error(ModeldaError, "TIMEOUT", f"{url}: no answer in {self.timeout} s") from e
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise error(
                ModeldaError,
                "UNREACHABLE",
                f"{url}: {reason}; is a modelda node running there (`modelda node`)?",
            ) from e
        return data

    @staticmethod
    def _http_error(url: str, e: urllib.error.HTTPError) -> ModeldaError:
        code, message = f"HTTP_{e.code}", f"{url}: HTTP {e.code}"
        try:
            body = json.loads(e.read(1 << 16))
            code = body.get("code") or code
            message = f"{url}: {body.get('message') or message}"
        except (ValueError, AttributeError, OSError):
            pass
        cls = NotFoundError if code == "NOT_FOUND" or e.code == 404 else ModeldaError
        return error(cls, "NOT_FOUND" if cls is NotFoundError else code, message)

    def graphql(self, query: str, variables: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Runs a GraphQL query; an error answered raises with its
        `extensions.code`."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        raw = self._get("/graphql", MAX_ANSWER_BYTES, body)
        try:
            answer = json.loads(raw)
        except ValueError as e:
            raise error(ModeldaError, "BAD_ANSWER", f"{self.url}/graphql: not JSON ({e})") from e
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            code = (first.get("extensions") or {}).get("code", "GRAPHQL_ERROR")
            cls = NotFoundError if code == "NOT_FOUND" else ModeldaError
            raise error(cls, code, f"{self.url}/graphql: {first.get('message', errors[0])}")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise error(ModeldaError, "BAD_ANSWER", f"{self.url}/graphql: no data in the answer")
        return data

    # -- claims -------------------------------------------------------------

    def _answer(self, model_id: str) -> Dict[str, Any]:
        model_id = model_id.strip().lower()
        if model_id not in self._answers:
            m = self.graphql(_MODEL_QUERY, {"id": model_id}).get("model")
            if not isinstance(m, dict):
                raise error(NotFoundError, "NOT_FOUND", f"the node at {self.url} has no model {model_id}")
            self._answers[model_id] = m
        return self._answers[model_id]

    def signed(self, model_id: str) -> SignedModel:
        """The model's signed claims, checked: with the pinned key, or with
        the key the first publication's claims carry (with a warning). The
        claims must be those of `model_id`."""
        model_id = model_id.strip().lower()
        if model_id in self._signed:
            return self._signed[model_id]
        pubs = self._answer(model_id).get("publications") or []
        if not pubs:
            raise error(NotFoundError, "NOT_FOUND", f"the node lists no publication of model {model_id}")
        chosen: Optional[SignedModel] = None
        refused: List[ModeldaError] = []
        for p in pubs if self.key is not None else pubs[:1]:
            text = str(p.get("claims", ""))
            try:
                s = SignedModel(text.encode(), self.key)
            except VerificationError as e:
                refused.append(e)
                continue
            if s.model_id != model_id:
                refused.append(
                    error(
                        VerificationError,
                        "CLAIMS_INVALID",
                        f"the node sent the claims of model {s.model_id} for model {model_id}",
                    )
                )
                continue
            chosen = s
            # The bytes that checked, for `download` to write as they are.
            self._claims[model_id] = text
            break
        if chosen is None:
            # A lie about the bytes says more than another signer.
            lies = [e for e in refused if not isinstance(e, KeyMismatchError)]
            if lies:
                raise lies[0]
            signers = ", ".join(sorted({str(p.get("signerKey")) for p in pubs}))
            raise error(
                KeyMismatchError,
                "KEY_MISMATCH",
                f"model {model_id} is signed by key(s) {signers}, none of them the pinned key "
                f"{self.key_hint}",
            )
        if not chosen.pinned:
            warnings.warn(
                UnpinnedKeyWarning(
                    f"model {model_id}: checked with the key its claims carry ({chosen.signer[:16]}...): "
                    "the bytes are what that key signed, but nothing says whose key it is; "
                    "pin the publisher's key with Client(url, key=...)"
                ),
                stacklevel=3,
            )
        self._signed[model_id] = chosen
        return chosen

    def model(self, model_id: str) -> Model:
        """The model: its signed files and tensors (checked), and what the
        node says of its publications, lineage and advisories (asked anew
        each time: advisories come later than weights)."""
        s = self.signed(model_id)
        self._answers.pop(s.model_id, None)
        m = self._answer(model_id)
        manifest = self._manifest(s)
        return Model(
            id=s.model_id,
            name=str(m.get("name", "")),
            signer=s.signer,
            pinned=s.pinned,
            files=manifest.get("files", []),
            card=m.get("card") or {},
            training=m.get("training"),
            publications=[{k: v for k, v in p.items() if k != "claims"} for p in m.get("publications") or []],
            parents=m.get("parents") or [],
            status=m.get("status"),
            advisories=m.get("advisories") or [],
            affected_through=m.get("affectedThrough") or [],
        )

    # -- advisories ---------------------------------------------------------

    def advisories(self, model_id: str) -> List[Dict[str, Any]]:
        """The advisories that apply to the model, judged here: id, status,
        about (the model or an ancestor), path, standing (`publisher`,
        `trusted`, `publisher_of_ancestor`, `third_party`), believed,
        denies, signer, summary, superseded_by."""
        s = self.signed(model_id)
        query = "query($id: ID!) { model(id: $id) { %s } }" % advisory_selection()
        m = self.graphql(query, {"id": s.model_id}).get("model")
        if not isinstance(m, dict):
            raise error(NotFoundError, "NOT_FOUND", f"the node at {self.url} has no model {s.model_id}")
        found = json.loads(judge_advisories(s.model_id, json.dumps(m), s.signer, self.trusted))
        self._judged[s.model_id] = (time.monotonic(), found)
        return found

    def _check_advisories(self, model_id: str) -> None:
        """Warns of believed advisories; with `deny_advisories`, refuses."""
        s = self.signed(model_id)
        kept = self._judged.get(s.model_id)
        if kept is None or time.monotonic() - kept[0] >= ADVISORY_TTL:
            self.advisories(s.model_id)
            kept = self._judged[s.model_id]
        believed = [a for a in kept[1] if a.get("believed")]
        if not believed:
            return

        def line(a: Dict[str, Any]) -> str:
            via = f" (through lineage: {' -> '.join(a['path'])})" if a.get("path") else ""
            return f"{a['id']} {a['status']} by {a['standing']} key {a['signer'][:16]}...{via}: {a.get('summary') or ''}"

        denying = [a for a in believed if a.get("denies")]
        if self.deny_advisories and denying:
            raise error(
                AdvisoryError,
                "DENIED_BY_ADVISORY",
                f"model {s.model_id} is refused by " + "; ".join(line(a) for a in denying),
            )
        # Once per judgment, not once per tensor.
        if self._warned.get(s.model_id) != kept[0]:
            self._warned[s.model_id] = kept[0]
            warnings.warn(
                AdvisoryWarning(f"model {s.model_id}: " + "; ".join(line(a) for a in believed)),
                stacklevel=3,
            )

    # -- bytes --------------------------------------------------------------

    def _leaf(self, commitment: str) -> bytes:
        return self._get(f"/chunks/{commitment}", MAX_LEAF_BYTES)

    def _read(self, read: RangeRead, sink: Callable[[memoryview], None]) -> None:
        """Fetches `read`'s leaves, `concurrency` at a time, checks each in
        order and hands the part in range to `sink`; then checks the whole
        (a tensor's hash)."""
        leaves = read.leaves()
        window = self.concurrency * 2
        with concurrent.futures.ThreadPoolExecutor(self.concurrency) as pool:
            pending: "collections.deque[Any]" = collections.deque()
            it = iter(leaves)
            for index, commitment in it:
                pending.append((index, pool.submit(self._leaf, commitment)))
                if len(pending) >= window:
                    break
            while pending:
                index, fut = pending.popleft()
                data = fut.result()
                lo, hi = read.leaf(index, data)
                sink(memoryview(data)[lo:hi])
                nxt = next(it, None)
                if nxt is not None:
                    pending.append((nxt[0], pool.submit(self._leaf, nxt[1])))
        read.finish()

    def _bytes(self, read: RangeRead) -> Any:
        """The checked bytes of `read`, as a numpy array of uint8. Its
        memory is reserved, not touched, up front: pages are committed as
        checked leaves are written, so claims signed by a stranger's key
        that name a huge size cost nothing until bytes verify (and a size
        past what the machine can map is a clean `TOO_LARGE`)."""
        import numpy as np

        n = read.end - read.start
        try:
            out = np.empty(n, dtype=np.uint8)
        except (MemoryError, ValueError) as e:
            raise error(ModeldaError, "TOO_LARGE", f"{read.path}: {n} bytes do not fit in memory ({e})") from e
        at = 0

        def sink(part: memoryview) -> None:
            nonlocal at
            out[at : at + len(part)] = np.frombuffer(part, dtype=np.uint8)
            at += len(part)

        self._read(read, sink)
        return out

    def _manifest(self, s: SignedModel) -> Dict[str, Any]:
        """The signed manifest, parsed once per model."""
        m = self._manifests.get(s.model_id)
        if m is None:
            m = self._manifests[s.model_id] = json.loads(s.manifest_json())
        return m

    def _files(self, s: SignedModel) -> List[Dict[str, Any]]:
        return self._manifest(s).get("files", [])

    def _file_entry(self, s: SignedModel, path: str) -> Dict[str, Any]:
        for f in self._files(s):
            if f["path"] == path:
                return f
        raise error(NotFoundError, "NOT_FOUND", f"model {s.model_id} has no file {path!r}")

    def load_tensor(self, model_id: str, name: str, framework: str = "np", file: Optional[str] = None) -> Any:
        """Tensor `name` (in `file`, or the first file that has it), read
        from only the leaves that hold it, each checked against the signed
        claims and the whole against the signed tensor hash; as a numpy
        array (`"np"`), a torch tensor (`"pt"`) or `bytes`."""
        s = self.signed(model_id)
        self._check_advisories(s.model_id)
        read = s.read_tensor(name, file)
        entry = self._file_entry(s, read.path)
        info = next(t for t in entry.get("tensors", []) if t["name"] == name)
        return _arrays.to_array(self._bytes(read), info["dtype"], info["shape"], entry["format"], framework)

    def load_file(self, model_id: str, path: str, framework: str = "np") -> Dict[str, Any]:
        """Every tensor of the file at `path`, by name, as
        `safetensors.numpy.load_file` returns them: the whole file read and
        checked leaf by leaf."""
        s = self.signed(model_id)
        self._check_advisories(s.model_id)
        entry = self._file_entry(s, path)
        data = self._bytes(s.read_file(path))
        out = {}
        for t in entry.get("tensors", []):
            part = data[t["start"] : t["end"]]
            out[t["name"]] = _arrays.to_array(part, t["dtype"], t["shape"], entry["format"], framework)
        return out

    def safe_open(self, model_id: str, path: Optional[str] = None, framework: str = "np") -> "SafeOpen":
        """A lazy handle on one file, like `safetensors.safe_open`: each
        tensor is read when asked. `path` defaults to the model's only
        file with tensors."""
        s = self.signed(model_id)
        self._check_advisories(s.model_id)
        files = self._files(s)
        if path is None:
            with_tensors = [f["path"] for f in files if f.get("tensors")]
            if len(with_tensors) != 1:
                raise error(
                    ModeldaError,
                    "BAD_INPUT",
                    f"model {s.model_id} has {len(with_tensors)} files with tensors; name one: "
                    + ", ".join(with_tensors),
                )
            path = with_tensors[0]
        return SafeOpen(self, s, self._file_entry(s, path), framework)

    def download(
        self,
        model_id: str,
        filename: Optional[str] = None,
        local_dir: Optional[PathLike] = None,
        force: bool = False,
        progress: Optional[Union[bool, Callable[[int, int], None]]] = None,
    ) -> str:
        """Like `hf_hub_download` (with `filename`) or `snapshot_download`
        (without): the file, or every file and the claims, verified leaf by
        leaf and written atomically under `local_dir` (default:
        `$MODELDA_CACHE` or `~/.cache/modelda`, then the model id). A file
        already there with its signed root is kept. Returns the file's or
        the directory's path.

        `progress`: a callable given (bytes done, bytes in all) as checked
        leaves are written; `True` prints a line on stderr; `None` (the
        default) prints it when stderr is a terminal."""
        s = self.signed(model_id)
        self._check_advisories(s.model_id)
        base = Path(local_dir) if local_dir is not None else cache_dir() / s.model_id
        files = self._files(s)
        wanted = files if filename is None else [self._file_entry(s, filename)]
        base.mkdir(parents=True, exist_ok=True)
        report = _progress(progress, sum(int(f["size"]) for f in wanted))
        done = 0
        for f in wanted:
            dest = safe_join(base, f["path"])
            if not force and dest.is_file() and dest.stat().st_size == f["size"] and b3sum(str(dest)) == f["root"]:
                done += int(f["size"])
                report(done)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)

            def fill(out: Any, path: str = f["path"]) -> None:
                nonlocal done

                def sink(part: memoryview) -> None:
                    nonlocal done
                    out.write(part)
                    done += len(part)
                    report(done)

                self._read(s.read_file(path), sink)

            write_atomically(dest, fill)
        report(done, last=True)
        if filename is None:
            claims = self._claims[s.model_id].encode()
            write_atomically(safe_join(base, CLAIMS_NAME), lambda out: out.write(claims))
            return str(base)
        return str(safe_join(base, wanted[0]["path"]))


def _progress(progress: Any, total: int) -> Callable[..., None]:
    """A reporter of bytes done out of `total` (see `Client.download`)."""
    import sys
    import time

    if callable(progress):
        return lambda done, last=False: progress(done, total)
    show = progress if progress is not None else sys.stderr.isatty()
    if not show:
        return lambda done, last=False: None
    start = time.monotonic()
    shown = [0.0]

    def report(done: int, last: bool = False) -> None:
        now = time.monotonic()
        if not last and now - shown[0] < 0.2:
            return
        shown[0] = now
        rate = done / max(now - start, 1e-3) / 2**20
        sys.stderr.write(f"\rmodelda: {done / 2**20:,.1f} of {total / 2**20:,.1f} MiB checked, {rate:,.0f} MiB/s")
        if last:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def pem_blocks(text: str) -> List[str]:
    """Each PEM public key in `text` (a keys file may hold several)."""
    import re

    blocks = re.findall(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", text, re.S)
    return [b + "\n" for b in blocks] or [text]


def read_bounded(r: Any, limit: int, url: str) -> bytes:
    """The body of answer `r`, refused past `limit` bytes before more is
    read. (`read(n)` would allocate `n` bytes up front, whatever comes.)"""
    too_large = lambda: error(ModeldaError, "TOO_LARGE", f"{url}: the answer is larger than {limit} bytes")
    length = r.headers.get("Content-Length")
    if length is not None and length.isdigit():
        if int(length) > limit:
            raise too_large()
        return r.read()
    parts, n = [], 0
    while True:
        part = r.read(min(1 << 20, limit + 1 - n))
        if not part:
            return b"".join(parts)
        parts.append(part)
        n += len(part)
        if n > limit:
            raise too_large()


class SafeOpen:
    """A lazy handle on one file of a model, like `safetensors.safe_open`."""

    def __init__(self, client: Client, signed: SignedModel, entry: Dict[str, Any], framework: str) -> None:
        self._client = client
        self._signed = signed
        self._entry = entry
        self._framework = framework
        self._metadata: Optional[Dict[str, str]] = None

    def __enter__(self) -> "SafeOpen":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def keys(self) -> List[str]:
        """The tensor names, in file order."""
        return [t["name"] for t in self._entry.get("tensors", [])]

    def get_tensor(self, name: str) -> Any:
        """Tensor `name`, read and checked now."""
        return self._client.load_tensor(self._signed.model_id, name, self._framework, self._entry["path"])

    def metadata(self) -> Optional[Dict[str, str]]:
        """The safetensors header's `__metadata__`, read and checked (the
        header's leaves only)."""
        if self._metadata is None and self._entry.get("format") == "safetensors":
            path = self._entry["path"]
            size = int(self._entry["size"])
            head = self._client._bytes(self._signed.read_range(path, 0, min(8, size)))
            n = int.from_bytes(bytes(head[:8]), "little")
            if n > 100 << 20 or 8 + n > size:
                raise error(VerificationError, "CLAIMS_INVALID", f"{path}: a header of {n} bytes")
            header = self._client._bytes(self._signed.read_range(path, 8, 8 + n))
            self._metadata = json.loads(bytes(header)).get("__metadata__") or {}
        return self._metadata or None


def cache_dir() -> Path:
    """Where downloads go by default: `$MODELDA_CACHE`, or `~/.cache/modelda`."""
    env = os.environ.get("MODELDA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "modelda"


def safe_join(base: Path, rel: str) -> Path:
    """`base/rel` for a manifest path: relative, `/`-separated, no `..`."""
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in rel:
        raise error(VerificationError, "CLAIMS_INVALID", f"the manifest names an unsafe path {rel!r}")
    return base.joinpath(*parts)


def write_atomically(dest: Path, fill: Callable[[Any], None]) -> None:
    """Writes `dest` through a temporary file beside it, renamed into place
    once `fill` has written and the bytes are on disk; on failure the
    temporary file is removed and `dest` is untouched."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
