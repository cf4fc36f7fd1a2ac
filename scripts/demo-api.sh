#!/usr/bin/env bash
# The demo's API steps: `modelda node` over the embedded chain, a GraphQL
# query for the model, a tensor's inclusion proof checked here against the
# chain, and the explorer's page. Run by scripts/demo.sh in its work
# directory, after the model is published:
#
#   bash scripts/demo-api.sh MODELDA_BINARY MODEL_ID
#
# Nothing here depends on the machine being fast or idle: every wait has a
# generous bound and says what it waited for, and a request the node
# answers with TIMEOUT or LAYER_UNAVAILABLE is asked again, as a client of
# a slow or busy node does (a proof still being built when its request
# times out goes on being built, and the same request gets it).
set -euo pipefail
M="$1"
ID="$2"

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it
# succeeds, or fails after SECONDS saying what it waited for.
wait_for() {
    local secs="$1" what="$2"
    shift 2
    local i
    for i in $(seq 1 $((secs * 5))); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    echo "demo: gave up after ${secs} s waiting for $what" >&2
    return 1
}

# gql OUT BODY: a GraphQL request, asked again while the node says it is
# busy (TIMEOUT) or cannot read the layer yet (LAYER_UNAVAILABLE).
gql() {
    local out="$1" body="$2" i
    for i in $(seq 1 30); do
        if curl -sf --max-time 600 -H 'content-type: application/json' -d "$body" \
            "http://$ADDR/graphql" >"$out.tmp" &&
            ! grep -qE '"code":"(TIMEOUT|LAYER_UNAVAILABLE)"' "$out.tmp"; then
            mv "$out.tmp" "$out"
            return 0
        fi
        sleep 2
    done
    echo "demo: the node did not answer $out; its last answer:" >&2
    cat "$out.tmp" >&2 || true
    return 1
}

"$M" --json node --listen 127.0.0.1:0 --index-dir node-index >node.log 2>node.err &
NODE=$!
trap 'kill -TERM "$NODE" 2>/dev/null || true' EXIT
wait_for 120 "modelda node to listen (see node.err)" grep -q listening node.log
ADDR="$(python3 -c 'import json; print(next(json.loads(l)["addr"] for l in open("node.log") if "listening" in l))')"
indexed() { curl -sf "http://$ADDR/metrics" | grep -q '^modelda_index_publications_total 1$'; }
wait_for 300 "the node to index the publication" indexed
Q='{"query":"query($id: ID!) { _meta { height layer lag } model(id: $id) { name files { path size root } publications { record signer { key } } } }","variables":{"id":"'"$ID"'"}}'
gql model.json "$Q"
python3 - <<'PYEOF'
import json
d = json.load(open("model.json"))["data"]
print("_meta:", json.dumps(d["_meta"]))
m = d["model"]
print("model %s: %d files, published by %s" % (m["name"], len(m["files"]), m["publications"][0]["signer"]["key"][:16]))
for f in m["files"][:4]:
    print("  %-40s %10s  %s" % (f["path"], f["size"], f["root"]))
PYEOF
P='{"query":"query($id: ID!) { inclusionProof(model: $id, file: \"model-00001-of-00002.safetensors\", tensor: \"model.shard0.layers.3.mlp.up_proj.weight\") { start end blobs { locator height dataRoot carried } document } }","variables":{"id":"'"$ID"'"}}'
gql proof.json "$P"
python3 - <<'PYEOF'
import json
p = json.load(open("proof.json"))["data"]["inclusionProof"]
asked = int(p["end"]) - int(p["start"])
carried = sum(int(b["carried"]) for b in p["blobs"])
print("proof of %d bytes: %d blob bytes carried in %d blobs, document %d bytes" % (
    asked, carried, len(p["blobs"]), len(json.dumps(p["document"]))))
PYEOF
"$M" verify-proof --inclusion proof.json --key publisher.pem.pub
explorer() { curl -sf "http://$ADDR/" | grep -q 'src="/assets/app.js"'; }
wait_for 60 "the explorer's page" explorer
echo "the web explorer is served at http://$ADDR/ (this model: http://$ADDR/model/$ID)"
kill -TERM "$NODE"
wait "$NODE"
trap - EXIT
