"""Type stubs of `modelda._core`, the native checks (Rust)."""

from os import PathLike
from typing import List, Optional, Tuple, Union

class ModeldaError(Exception):
    """Any modelda failure; `code` is stable (the node's `extensions.code`
    for an error it answered)."""

    code: str

class VerificationError(ModeldaError):
    """Bytes or claims that do not check out: `TAMPERED`, `BAD_SIGNATURE`,
    `CLAIMS_INVALID`."""

class KeyMismatchError(VerificationError):
    """Claims signed by another key than the pinned one: `KEY_MISMATCH`."""

class AdvisoryError(ModeldaError):
    """A believed advisory refuses the model: `DENIED_BY_ADVISORY`."""

class NotFoundError(ModeldaError):
    """A model, file or tensor that does not exist: `NOT_FOUND`."""

class RangeRead:
    """A read of bytes `start..end` of a file, leaf by leaf."""

    @property
    def path(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    def leaves(self) -> List[Tuple[int, str]]:
        """Every leaf to fetch, in order: (index, commitment hex)."""
    def leaf(self, index: int, data: bytes) -> Tuple[int, int]:
        """Checks the next leaf; returns the slice (lo, hi) of `data` in the
        range. Raises `VerificationError` (`TAMPERED`)."""
    def finish(self) -> None:
        """Every leaf was given, and a tensor hashes to its signed hash."""

class SignedModel:
    """A model's signed claims, checked."""

    def __init__(self, claims: bytes, key: Optional[str] = None) -> None: ...
    @property
    def model_id(self) -> str: ...
    @property
    def signer(self) -> str: ...
    @property
    def public_key(self) -> str: ...
    @property
    def pinned(self) -> bool: ...
    def manifest_json(self) -> str: ...
    def read_tensor(self, name: str, file: Optional[str] = None) -> RangeRead: ...
    def read_range(self, path: str, start: int, end: int) -> RangeRead: ...
    def read_file(self, path: str) -> RangeRead: ...

def verify_dir(path: Union[str, PathLike[str]], key: Optional[str] = None) -> str:
    """The report of a local model directory's check, as JSON text."""

def b3sum(path: Union[str, PathLike[str]]) -> str:
    """BLAKE3 of a file (hex), as `b3sum` prints it."""

def judge_advisories(model_id: str, answer: str, signer: str, trusted: List[str]) -> str:
    """The advisories that apply, judged with the reader's keys (JSON)."""

def advisory_selection() -> str:
    """The GraphQL selection `judge_advisories` reads."""

def key_hint(pem: str) -> str:
    """Hex SHA-256 of a P-256 public key's canonical PEM."""
