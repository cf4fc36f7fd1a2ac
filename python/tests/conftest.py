"""A world for the client's tests: keys, a sample model published to the
embedded chain, and `modelda node` over it, started as a user starts them
(the `modelda` binary of this tree, `MODELDA_BIN` to override)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("MODELDA_BIN", REPO / "target" / "release" / "modelda"))
SAMPLE = Path(os.environ.get("MODELDA_SAMPLE_BIN", REPO / "target" / "release" / "sample-model"))


def modelda(cwd: Path, *args: str) -> dict:
    """Runs `modelda --json ARGS` in `cwd`; its JSON answer."""
    out = subprocess.run(
        [str(BIN), "--json", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0:
        raise AssertionError(f"modelda {' '.join(args)} failed: {out.stderr}")
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    return json.loads(lines[-1]) if lines else {}


@dataclass
class World:
    root: Path
    url: str
    model_id: str
    #: The published model directory (the original bytes).
    model: Path
    #: Alice's public key (the publisher) and Mallory's.
    alice: Path
    mallory: Path
    #: Mallory's own signed claims of the same model, and of another.
    mallory_same: str
    mallory_other: str
    #: Alice's claims of a model that is not the published one.
    alice_other: str


def wait_for_model(url: str, model_id: str, seconds: float = 180.0) -> None:
    body = json.dumps({"query": "query($id: ID!) { model(id: $id) { id } }", "variables": {"id": model_id}})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        req = urllib.request.Request(
            url + "/graphql", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                if (json.load(r).get("data") or {}).get("model"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the node did not index {model_id} in {seconds} s")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("world")
    for name in ("alice", "mallory"):
        modelda(root, "keygen", "--out", f"{name}.pem")
    subprocess.run([str(SAMPLE), str(root / "model"), str(3 << 20)], check=True, capture_output=True)
    model_id = modelda(root, "publish", "model", "--key", "alice.pem")["model_id"]
    # Mallory signs the same bytes with his own key, and a model of other
    # bytes; Alice signs other bytes too (none of these is published).
    shutil.copytree(root / "model", root / "same", ignore=shutil.ignore_patterns("model*.sig"))
    modelda(root, "sign", "same", "--key", "mallory.pem")
    shutil.copytree(root / "same", root / "other", ignore=shutil.ignore_patterns("model*.sig"))
    (root / "other" / "config.json").write_text('{"changed": true}\n')
    modelda(root, "sign", "other", "--key", "mallory.pem")
    shutil.copytree(root / "other", root / "alice-other", ignore=shutil.ignore_patterns("model*.sig"))
    modelda(root, "sign", "alice-other", "--key", "alice.pem")

    err = open(root / "node.err", "w")
    node = subprocess.Popen(
        [str(BIN), "--json", "node", "--listen", "127.0.0.1:0", "--index-dir", "node-index"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )
    try:
        addr = None
        assert node.stdout is not None
        for line in node.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "listening":
                addr = event["addr"]
                break
        if addr is None:
            raise AssertionError(f"the node did not listen: {(root / 'node.err').read_text()}")
        url = f"http://{addr}"
        wait_for_model(url, model_id)
        yield World(
            root=root,
            url=url,
            model_id=model_id,
            model=root / "model",
            alice=root / "alice.pem.pub",
            mallory=root / "mallory.pem.pub",
            mallory_same=(root / "same" / "model.claims.sig").read_text(),
            mallory_other=(root / "other" / "model.claims.sig").read_text(),
            alice_other=(root / "alice-other" / "model.claims.sig").read_text(),
        )
    finally:
        node.terminate()
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
        err.close()
