"""The Python client's benchmark, as ratios measured in one run:

- `load_tensor` (every leaf checked against the signed claims, the tensor
  against its signed hash) against a raw download of the same leaves from
  the node's `/chunks` (same concurrency, no checks): what checking costs;
- against `safetensors.numpy.load_file` of the original local file (from
  the page cache; its time scaled to the bytes the other two read): how
  far from a local load a verified remote load is;
- memory: a fresh process's peak RSS growth while it loads the largest
  tensor, over that tensor's size.

Run on demand (not in CI), after `bash scripts/test.sh` or
`cargo build --release --workspace --all-targets && pip install ./python`:

    .venv/bin/python benches/python_client.py [--mib 256] [--rounds 5]

It writes a sample model of --mib MiB, publishes it to a fresh embedded
chain, starts `modelda node` over it and reads every tensor of its first
shard each way, the three ways interleaved round by round (the machine
is shared; the median of each is reported). Round 1 is cold for the node
(its leaf cache is empty); later rounds are warm.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "modelda"
SAMPLE = REPO / "target" / "release" / "sample-model"


def run(cwd: Path, *args: str) -> dict:
    out = subprocess.run([str(BIN), "--json", *args], cwd=cwd, capture_output=True, text=True, check=True)
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    return json.loads(lines[-1]) if lines else {}


def start_node(root: Path) -> tuple:
    node = subprocess.Popen(
        [str(BIN), "--json", "node", "--listen", "127.0.0.1:0", "--index-dir", "node-index"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=open(root / "node.err", "w"),
        text=True,
    )
    for line in node.stdout:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") == "listening":
            return node, f"http://{e['addr']}"
    raise SystemExit(f"the node did not start: {(root / 'node.err').read_text()}")


def raw(url: str, leaves: list, concurrency: int) -> int:
    """The leaves' bytes from /chunks, `concurrency` at a time, unchecked."""

    def get(c: str) -> bytes:
        with urllib.request.urlopen(f"{url}/chunks/{c}", timeout=120) as r:
            return r.read()

    n = 0
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        pending = collections.deque()
        it = iter(leaves)
        for c in it:
            pending.append(pool.submit(get, c))
            if len(pending) >= concurrency * 2:
                break
        while pending:
            n += len(pending.popleft().result())
            c = next(it, None)
            if c is not None:
                pending.append(pool.submit(get, c))
    return n


PROBE = """
import sys
import modelda
url, key, model_id, path = sys.argv[1:5]
# VmHWM, the peak RSS of this process's memory (getrusage's ru_maxrss
# carries the parent's over fork and exec).
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
c = modelda.Client(url, key=key)
c.signed(model_id)
base = rss()
t = c.load_file(model_id, path)
print(base, rss(), file=sys.stderr)
print((rss() - base) * 1024)
"""


def peak_growth(url: str, key: Path, model_id: str, path: str) -> int:
    """Peak RSS growth (bytes) of a fresh process loading every tensor of
    the file at `path` (`load_file`)."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, url, str(key), model_id, path], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"the memory probe failed: {out.stderr}")
    print("probe (base, peak KiB):", out.stderr.strip())
    return int(out.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=256, help="sample model size (default 256)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--concurrency", type=int, default=4, help="leaves in flight (default 4, the client's)")
    ap.add_argument(
        "--read-mib",
        type=int,
        default=48,
        help="tensors read per round, from the first shard (default 48: they stay in the node's "
        "64 MiB leaf cache, so the rounds measure the client, not the node's disk)",
    )
    args = ap.parse_args()

    import modelda
    import safetensors.numpy

    with tempfile.TemporaryDirectory(prefix="modelda-pybench-", dir=REPO / "target") as tmp:
        root = Path(tmp)
        run(root, "keygen", "--out", "k.pem")
        subprocess.run([str(SAMPLE), str(root / "model"), str(args.mib << 20)], check=True, capture_output=True)
        model_id = run(root, "publish", "model", "--key", "k.pem")["model_id"]
        node, url = start_node(root)
        try:
            client = modelda.Client(url, key=root / "k.pem.pub", concurrency=args.concurrency)
            deadline = time.monotonic() + 600
            while True:
                try:
                    signed = client.signed(model_id)
                    break
                except modelda.NotFoundError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            shard = sorted(p for p in (root / "model").iterdir() if p.suffix == ".safetensors")[0]
            entry = next(f for f in client.model(model_id).files if f["path"] == shard.name)
            names, total = [], 0
            for t in entry["tensors"]:
                if total >= args.read_mib << 20:
                    break
                names.append(t["name"])
                total += t["end"] - t["start"]
            leaves = [c for n in names for _, c in signed.read_tensor(n, shard.name).leaves()]
            print(
                f"model {args.mib} MiB; {shard.name}: {len(names)} tensors, {total / 2**20:.1f} MiB, "
                f"{len(leaves)} leaf reads; {os.cpu_count()} CPUs"
            )
            times = {"raw /chunks": [], "load_tensor": [], "safetensors local": []}
            for r in range(args.rounds):
                t0 = time.perf_counter()
                raw(url, leaves, args.concurrency)
                t1 = time.perf_counter()
                for n in names:
                    client.load_tensor(model_id, n, file=shard.name)
                t2 = time.perf_counter()
                local = safetensors.numpy.load_file(str(shard))
                t3 = time.perf_counter()
                # The same tensors (load_file reads the whole shard; scale
                # its time to the bytes read the other ways).
                t3 = t2 + (t3 - t2) * total / sum(a.nbytes for a in local.values())
                for k, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                    times[k].append(dt)
                print(
                    f"round {r + 1}{' (cold node)' if r == 0 else ''}: "
                    + ", ".join(f"{k} {total / dt / 2**20:.0f} MiB/s" for k, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2)))
                )
            med = {k: statistics.median(v) for k, v in times.items()}
            for k, v in med.items():
                print(f"median {k}: {total / v / 2**20:.0f} MiB/s")
            print(f"load_tensor / raw /chunks throughput: {med['raw /chunks'] / med['load_tensor']:.2f}")
            print(f"load_tensor / safetensors local throughput: {med['safetensors local'] / med['load_tensor']:.3f}")
            size = entry["size"]
            grew = peak_growth(url, root / "k.pem.pub", model_id, shard.name)
            print(
                f"memory: peak RSS growth {grew / 2**20:.1f} MiB for load_file of the {size / 2**20:.1f} MiB shard: "
                f"{grew / size:.2f}x its size"
            )
        finally:
            node.terminate()
            node.wait(timeout=30)


if __name__ == "__main__":
    main()
