#!/usr/bin/env bash
# The main job on the embedded default, end to end, on a fresh machine:
#
#   bash scripts/demo.sh [WORK_DIR]
#
# Builds modelda, writes a sample model (safetensors shards with an index, a
# GGUF export, config, tokenizer, model card, training manifest), then
# commits it, signs it, verifies it, checks a root with b3sum, proves and
# verifies one tensor, publishes the model to the embedded local chain
# (erasure-coded, with a signed record), fetches it back verified, fetches a
# single tensor, indexes the chain and shows what the index holds for the
# model, and proves a blob's inclusion. WORK_DIR defaults to
# ./.modelda-demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
WORK="${1:-$REPO/.modelda-demo}"

bash scripts/setup-debian.sh >/dev/null
cargo build --release -q -p modelda-cli -p modelda-fixtures --bins
M="$REPO/target/release/modelda"

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$REPO/target/release/sample-model" model $((64 << 20))

step() { printf '\n== %s\n' "$*"; }

step "modelda keygen"
"$M" keygen --out publisher.pem --force

step "modelda commit model"
"$M" commit model

step "modelda sign model --key publisher.pem"
"$M" sign model --key publisher.pem

step "modelda verify model --key publisher.pem.pub"
"$M" verify model --key publisher.pem.pub

step "b3sum agrees with the committed roots"
b3sum model/model-00001-of-00002.safetensors
"$M" --json commit model | python3 -c 'import json,sys; [print(f["root"]+"  "+f["path"]) for f in json.load(sys.stdin)["files"] if f["path"]=="model-00001-of-00002.safetensors"]'

step "modelda prove (one tensor) and verify-proof"
"$M" prove model/model-00001-of-00002.safetensors --tensor model.shard0.layers.3.mlp.up_proj.weight \
    --out tensor.proof --data-out tensor.leaves
ROOT="$("$M" --json commit model | python3 -c 'import json,sys; print([f["root"] for f in json.load(sys.stdin)["files"] if f["path"]=="model-00001-of-00002.safetensors"][0])')"
"$M" verify-proof --proof tensor.proof --root "$ROOT" --data tensor.leaves --out tensor.bin

step "modelda publish model --dry-run --da celestia (the plan: blobs, shares, fee, time)"
"$M" publish model --dry-run --da celestia

step "modelda publish model --key publisher.pem (embedded local chain in .modelda/local)"
"$M" --json publish model --key publisher.pem | tee publish.json
ID="$(python3 -c 'import json; print(json.load(open("publish.json"))["model_id"])')"
REC="$(python3 -c 'import json; print(json.load(open("publish.json"))["record"])')"

step "publishing again posts nothing and prints the same record"
"$M" publish model --key publisher.pem

step "modelda fetch: the whole model, every leaf verified"
"$M" fetch "$ID" --record "$REC" --key publisher.pem.pub --out fetched
b3sum fetched/model-00001-of-00002.safetensors
"$M" verify fetched --key publisher.pem.pub

step "modelda index: follow the record namespace up to the head, then show the model"
HEAD="$("$M" --json blob head | python3 -c 'import json,sys; print(json.load(sys.stdin)["head"])')"
"$M" index --to-height "$HEAD"
"$M" index show "$ID"
"$M" index digest

step "modelda node: the GraphQL API over the index; a tensor's inclusion proof, verified here against the chain"
bash "$REPO/scripts/demo-api.sh" "$M" "$ID"

step "modelda fetch: one tensor as a safetensors file"
"$M" fetch "$ID" --record "$REC" --tensor model.shard0.layers.3.mlp.up_proj.weight --as-safetensors --out tensor

step "modelda blob: post the signed claims to the embedded local chain, prove and verify it"
LOC="$("$M" --json blob submit model/model.claims.sig --da local --data-dir chain | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["locator"])')"
echo "$LOC"
"$M" blob prove "$LOC" --da local --data-dir chain --out claims.proof.json
"$M" blob verify "$LOC" --data model/model.claims.sig --proof claims.proof.json --da local --data-dir chain

step "tampering is caught and located"
printf '\x01' | dd of=model/model-00002-of-00002.safetensors bs=1 seek=5000000 conv=notrunc status=none
if "$M" verify model --key publisher.pem.pub; then
    echo "tampering went unnoticed" >&2
    exit 1
fi
echo
echo "demo finished in $WORK"
