//! `modelda._core`: the checks of modelda's I/O-free core (`modelda-wire`,
//! `modelda-manifest`) for the Python package. It does no I/O but reading
//! a local directory in [`verify_dir`]: the Python side fetches, this side
//! checks.
//!
//! - [`SignedModel`]: a model's signed claims, checked (signature, model
//!   id, leaves against roots), and the plan of a read by tensor or file;
//! - [`RangeRead`]: that read, leaf by leaf, each leaf checked against its
//!   commitment before its bytes are used; a tensor's bytes against the
//!   signed tensor hash;
//! - [`verify_dir`]: a local model directory against its claims;
//! - errors are exceptions with a stable `code` attribute.

use std::path::{Path, PathBuf};

use modelda_manifest::sign::PublicKey;
use modelda_manifest::verify::{verify_dir as verify_model_dir, VerifyOptions};
use modelda_manifest::NoProgress;
use modelda_wire::signed;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

pyo3::create_exception!(
    modelda,
    ModeldaError,
    PyException,
    "Any modelda failure. `code` is a stable code (the API's `extensions.code` for an error a node answered)."
);
pyo3::create_exception!(
    modelda,
    VerificationError,
    ModeldaError,
    "Bytes or claims that do not check out: altered bytes (`TAMPERED`), a bad signature (`BAD_SIGNATURE`), invalid claims (`CLAIMS_INVALID`)."
);
pyo3::create_exception!(
    modelda,
    KeyMismatchError,
    VerificationError,
    "Claims signed by another key than the pinned one (`KEY_MISMATCH`)."
);
pyo3::create_exception!(
    modelda,
    AdvisoryError,
    ModeldaError,
    "A believed advisory refuses the model: revoked, compromised key or poisoned data, its own or an ancestor's (`DENIED_BY_ADVISORY`)."
);
pyo3::create_exception!(
    modelda,
    NotFoundError,
    ModeldaError,
    "A model, file or tensor that does not exist (`NOT_FOUND`)."
);

/// An exception of class `E` with `code` set.
fn raise<E: pyo3::PyTypeInfo>(py: Python<'_>, code: &str, message: String) -> PyErr {
    let e = PyErr::from_type(py.get_type::<E>(), message);
    // An exception instance has a `__dict__`: setting an attribute on it
    // cannot fail short of memory exhaustion, which raises anyway.
    let _ = e.value(py).setattr("code", code);
    e
}

/// The exception for a check of the core.
fn wire_error(py: Python<'_>, e: modelda_wire::Error) -> PyErr {
    use modelda_wire::Error as W;
    let message = e.to_string();
    match &e {
        W::KeyMismatch { .. } => raise::<KeyMismatchError>(py, "KEY_MISMATCH", message),
        W::NotInManifest { .. } => raise::<NotFoundError>(py, "NOT_FOUND", message),
        W::LeafMismatch { .. } | W::TensorMismatch { .. } => {
            raise::<VerificationError>(py, "TAMPERED", message)
        }
        W::Claims { cause } => match **cause {
            modelda_manifest::Error::BadSignature { .. } | modelda_manifest::Error::Key { .. } => {
                raise::<VerificationError>(py, "BAD_SIGNATURE", message)
            }
            _ => raise::<VerificationError>(py, "CLAIMS_INVALID", message),
        },
        _ => raise::<VerificationError>(py, "CLAIMS_INVALID", message),
    }
}

/// A public key from PEM text, or `BAD_INPUT`.
fn public_key(py: Python<'_>, pem: Option<&str>) -> PyResult<Option<PublicKey>> {
    pem.map(|pem| {
        PublicKey::from_pem(Path::new("key"), pem)
            .map_err(|e| raise::<ModeldaError>(py, "BAD_INPUT", e.to_string()))
    })
    .transpose()
}

/// A model's signed claims, checked: the signature with the pinned key
/// (or the key the claims carry), the model id as the hash of the
/// manifest, and every file's leaves against its root.
#[pyclass(frozen, module = "modelda._core")]
struct SignedModel {
    inner: signed::SignedModel,
}

#[pymethods]
impl SignedModel {
    /// Checks `claims` (the signed claims bundle's JSON) with `key` (PEM)
    /// pinned, or with the key the claims carry.
    #[new]
    #[pyo3(signature = (claims, key=None))]
    fn new(py: Python<'_>, claims: &[u8], key: Option<&str>) -> PyResult<Self> {
        let pinned = public_key(py, key)?;
        let claims = claims.to_vec();
        let opened = py.detach(move || signed::SignedModel::open(&claims, pinned.as_ref()));
        Ok(SignedModel {
            inner: opened.map_err(|e| wire_error(py, e))?,
        })
    }

    /// The model id (hex).
    #[getter]
    fn model_id(&self) -> String {
        self.inner.model_id().to_hex()
    }

    /// Hint of the key that signed the claims: hex SHA-256 of its PEM.
    #[getter]
    fn signer(&self) -> String {
        self.inner.key().hint()
    }

    /// The signing key's PEM.
    #[getter]
    fn public_key(&self) -> String {
        self.inner.key().to_pem()
    }

    /// Whether the key was pinned (otherwise it is the key the claims
    /// carry: integrity, not identity).
    #[getter]
    fn pinned(&self) -> bool {
        self.inner.pinned()
    }

    /// The signed manifest, as JSON text.
    fn manifest_json(&self, py: Python<'_>) -> PyResult<String> {
        serde_json::to_string(self.inner.manifest())
            .map_err(|e| raise::<ModeldaError>(py, "INTERNAL", e.to_string()))
    }

    /// Plans the read of tensor `name` (in `file`, or the first file that
    /// has it).
    #[pyo3(signature = (name, file=None))]
    fn read_tensor(&self, py: Python<'_>, name: &str, file: Option<&str>) -> PyResult<RangeRead> {
        let read = self
            .inner
            .read_tensor(file, name)
            .map_err(|e| wire_error(py, e))?;
        Ok(RangeRead::new(read))
    }

    /// Plans the read of bytes `start..end` of the file at `path`.
    fn read_range(&self, py: Python<'_>, path: &str, start: u64, end: u64) -> PyResult<RangeRead> {
        let read = self
            .inner
            .read_range(path, start..end)
            .map_err(|e| wire_error(py, e))?;
        Ok(RangeRead::new(read))
    }

    /// Plans the read of the whole file at `path`.
    fn read_file(&self, py: Python<'_>, path: &str) -> PyResult<RangeRead> {
        let read = self.inner.read_file(path).map_err(|e| wire_error(py, e))?;
        Ok(RangeRead::new(read))
    }
}

/// A read of a byte range of a file, leaf by leaf.
#[pyclass(module = "modelda._core")]
struct RangeRead {
    inner: Option<signed::RangeRead>,
    path: String,
    start: u64,
    end: u64,
    leaves: Vec<(u64, String)>,
}

impl RangeRead {
    fn new(read: signed::RangeRead) -> Self {
        let r = read.range();
        RangeRead {
            path: read.path().to_string(),
            start: r.start,
            end: r.end,
            leaves: read.leaves(),
            inner: Some(read),
        }
    }

    fn inner(&mut self, py: Python<'_>) -> PyResult<&mut signed::RangeRead> {
        self.inner.as_mut().ok_or_else(|| {
            raise::<ModeldaError>(py, "BAD_INPUT", "this read is finished".to_string())
        })
    }
}

#[pymethods]
impl RangeRead {
    /// The file.
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// First byte of the range in the file.
    #[getter]
    fn start(&self) -> u64 {
        self.start
    }

    /// One past the last byte of the range.
    #[getter]
    fn end(&self) -> u64 {
        self.end
    }

    /// Every leaf to fetch, in order: `(index, commitment hex)`.
    fn leaves(&self) -> Vec<(u64, String)> {
        self.leaves.clone()
    }

    /// Checks leaf `index` (the next one) against its commitment and
    /// returns `(lo, hi)`: the slice of `data` that is in the range.
    fn leaf(
        &mut self,
        py: Python<'_>,
        index: u64,
        data: &Bound<'_, PyBytes>,
    ) -> PyResult<(usize, usize)> {
        let bytes = data.as_bytes();
        let read = self.inner(py)?;
        // Hashing a leaf (up to 8 MiB) lets other threads fetch meanwhile.
        let checked = py.detach(|| read.leaf(index, bytes));
        let within = checked.map_err(|e| wire_error(py, e))?;
        Ok((within.start, within.end))
    }

    /// Ends the read: every leaf was given, and a tensor's bytes hash to
    /// the signed tensor hash.
    fn finish(&mut self, py: Python<'_>) -> PyResult<()> {
        let read = self.inner.take().ok_or_else(|| {
            raise::<ModeldaError>(py, "BAD_INPUT", "this read is finished".to_string())
        })?;
        read.finish().map_err(|e| wire_error(py, e))
    }
}

/// Checks the model directory at `path` against its claims
/// (`model.claims.sig`) and, where present, its OpenSSF model signature
/// (`model.sig`): every file re-hashed. Returns the report as JSON text;
/// a signature that fails raises.
#[pyfunction]
#[pyo3(signature = (path, key=None))]
fn verify_dir(py: Python<'_>, path: PathBuf, key: Option<&str>) -> PyResult<String> {
    let opts = VerifyOptions {
        public_key: public_key(py, key)?,
        oms_optional: true,
        ..VerifyOptions::default()
    };
    let report = py.detach(|| verify_model_dir(&path, &opts, &NoProgress));
    let report = report.map_err(|e| match e {
        modelda_manifest::Error::BadSignature { .. }
            if opts.public_key.is_some() && signed_by_its_own_key(&path) =>
        {
            raise::<KeyMismatchError>(py, "KEY_MISMATCH", e.to_string())
        }
        modelda_manifest::Error::BadSignature { .. } | modelda_manifest::Error::Key { .. } => {
            raise::<VerificationError>(py, "BAD_SIGNATURE", e.to_string())
        }
        modelda_manifest::Error::Io { .. } => {
            raise::<NotFoundError>(py, "NOT_FOUND", e.to_string())
        }
        e => raise::<VerificationError>(py, "CLAIMS_INVALID", e.to_string()),
    })?;
    let mut v = serde_json::to_value(&report)
        .map_err(|e| raise::<ModeldaError>(py, "INTERNAL", e.to_string()))?;
    v["ok"] = report.ok().into();
    v["mismatches"] = report
        .mismatches
        .iter()
        .map(|m| serde_json::Value::String(m.to_string()))
        .collect();
    Ok(v.to_string())
}

/// Whether the directory's claims check out with the key they carry (so a
/// pinned key they fail with is another key, not a forgery).
fn signed_by_its_own_key(dir: &Path) -> bool {
    std::fs::read(dir.join(modelda_manifest::CLAIMS_SIGNATURE_NAME))
        .is_ok_and(|c| signed::SignedModel::open(&c, None).is_ok())
}

/// The BLAKE3 hash of the file at `path` (hex): what `b3sum` prints, and
/// the file's root in a manifest.
#[pyfunction]
fn b3sum(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    let hashed = py.detach(|| {
        let mut h = blake3::Hasher::new();
        h.update_mmap_rayon(&path)
            .map(|h| h.finalize().to_hex().to_string())
    });
    hashed.map_err(|e| raise::<NotFoundError>(py, "NOT_FOUND", format!("{}: {e}", path.display())))
}

/// Judges the advisories a node lists for `model_id` (its `model` object,
/// JSON, with `advisory::judge::SELECTION`): every statement checked here
/// with the key it carries; believed when signed by `signer` (the hint of
/// the key the model was verified with) or one of `trusted` (hints).
/// Returns the advisories that apply, as JSON.
#[pyfunction]
fn judge_advisories(
    py: Python<'_>,
    model_id: &str,
    answer: &str,
    signer: &str,
    trusted: Vec<String>,
) -> PyResult<String> {
    let model: modelda_manifest::ModelId = model_id.parse().map_err(|e| {
        raise::<ModeldaError>(py, "BAD_INPUT", format!("model id {model_id:?}: {e}"))
    })?;
    let answer: serde_json::Value = serde_json::from_str(answer)
        .map_err(|e| raise::<ModeldaError>(py, "BAD_ANSWER", format!("the node's answer: {e}")))?;
    let found =
        py.detach(|| modelda_wire::advisory::judge::judge(&model, &answer, signer, &trusted));
    serde_json::to_string(&found).map_err(|e| raise::<ModeldaError>(py, "INTERNAL", e.to_string()))
}

/// The GraphQL selection `judge_advisories` reads under `model(id:)`.
#[pyfunction]
fn advisory_selection() -> &'static str {
    modelda_wire::advisory::judge::SELECTION
}

/// The hint of a public key (PEM): hex SHA-256 of its canonical PEM, as
/// the node's `signerKey` gives it. Raises `BAD_INPUT` for anything but a
/// P-256 public key.
#[pyfunction]
fn key_hint(py: Python<'_>, pem: &str) -> PyResult<String> {
    Ok(public_key(py, Some(pem))?
        .map(|k| k.hint())
        .unwrap_or_default())
}

/// The module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ModeldaError", py.get_type::<ModeldaError>())?;
    m.add("VerificationError", py.get_type::<VerificationError>())?;
    m.add("KeyMismatchError", py.get_type::<KeyMismatchError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("AdvisoryError", py.get_type::<AdvisoryError>())?;
    m.add_class::<SignedModel>()?;
    m.add_class::<RangeRead>()?;
    m.add_function(wrap_pyfunction!(verify_dir, m)?)?;
    m.add_function(wrap_pyfunction!(b3sum, m)?)?;
    m.add_function(wrap_pyfunction!(key_hint, m)?)?;
    m.add_function(wrap_pyfunction!(judge_advisories, m)?)?;
    m.add_function(wrap_pyfunction!(advisory_selection, m)?)?;
    Ok(())
}
