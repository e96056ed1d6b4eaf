#!/usr/bin/env bash
# A curl session against `privsynth serve` (run from the repository root; writes docs/serve/transcript.md).
# Serves the signed demo model of examples/demo-project under its trust policy, then: health, auth
# refused, models, certificate, a small sample, 1M rows streamed as CSV (rate and server memory).
set -euo pipefail
PORT=${PORT:-8799}
export PRIVSYNTH_SERVE_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
OUT=docs/serve/transcript.md
run() { echo; echo "\$ $*" | sed "s/$PRIVSYNTH_SERVE_TOKEN/\$PRIVSYNTH_SERVE_TOKEN/g"; eval "$@" 2>&1; echo; }
{
echo "# privsynth serve: a curl transcript"
echo
echo "Produced by \`bash docs/serve/transcript.sh\` on $(date -u +%Y-%m-%d) ($(uname -m), $(nproc) cores; server and curl on the same machine)."
echo
echo '```'
echo "\$ export PRIVSYNTH_SERVE_TOKEN=\$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
echo "\$ privsynth serve examples/demo-project/models/census.privsynth --trusted-key examples/demo-project/keys/demo-release.pub --max-epsilon 1 --port $PORT &"
privsynth serve examples/demo-project/models/census.privsynth --trusted-key examples/demo-project/keys/demo-release.pub \
  --max-epsilon 1 --port "$PORT" --log-level warning > /tmp/privsynth-serve.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "localhost:$PORT/healthz" > /dev/null && break; sleep 0.2; done
cat /tmp/privsynth-serve.log
run "curl -s localhost:$PORT/healthz"
run "curl -s -i localhost:$PORT/models | sed -n '1p;\$p'"
run "curl -s -H 'Authorization: Bearer not-the-token-at-all' localhost:$PORT/models"
run "curl -s -H \"Authorization: Bearer $PRIVSYNTH_SERVE_TOKEN\" localhost:$PORT/models"
run "curl -s -H \"Authorization: Bearer $PRIVSYNTH_SERVE_TOKEN\" localhost:$PORT/models/census/certificate | python -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({\"spent\": d[\"certificate\"][\"spent\"], \"valid\": d[\"certificate\"][\"valid\"], \"mechanism_calls\": len(d[\"certificate\"][\"entries\"]), \"verification\": d[\"verification\"], \"signed_by\": d[\"signed_by\"]}, indent=1))'"
run "curl -s -H \"Authorization: Bearer $PRIVSYNTH_SERVE_TOKEN\" 'localhost:$PORT/models/census/sample?n=5&seed=1&format=csv'"
run "curl -s -H \"Authorization: Bearer $PRIVSYNTH_SERVE_TOKEN\" 'localhost:$PORT/models/census/sample?n=20000000'"
run "curl -s -H \"Authorization: Bearer $PRIVSYNTH_SERVE_TOKEN\" 'localhost:$PORT/models/census/sample?n=2&where=age%20%3E%3D%2070&format=jsonl'"
RSS0=$(awk '/VmRSS/{print $2}' /proc/$SERVER/status)
echo
echo "\$ curl -s -H \"Authorization: Bearer \$PRIVSYNTH_SERVE_TOKEN\" 'localhost:$PORT/models/census/sample?n=1000000&seed=7&format=csv' -o census-1M.csv -w '%{size_download} bytes in %{time_total} s\\n'"
( while kill -0 $SERVER 2>/dev/null; do awk '/VmRSS/{print $2}' /proc/$SERVER/status; sleep 0.05; done > /tmp/privsynth-rss.txt ) &
WATCH=$!
curl -s -H "Authorization: Bearer $PRIVSYNTH_SERVE_TOKEN" "localhost:$PORT/models/census/sample?n=1000000&seed=7&format=csv" \
  -o /tmp/census-1M.csv -w '%{size_download} bytes in %{time_total} s\n' | tee /tmp/privsynth-curl.txt
kill $WATCH
python - "$RSS0" <<'PY'
import sys
rows = sum(1 for _ in open("/tmp/census-1M.csv")) - 1
size, _, _, seconds, _ = open("/tmp/privsynth-curl.txt").read().split()
peak = max(int(x) for x in open("/tmp/privsynth-rss.txt").read().split())
print(f"{rows:,} rows in {float(seconds):.2f} s = {rows / float(seconds):,.0f} rows/s; server RSS {int(sys.argv[1]) / 1024:.0f} MB before, "
      f"peak {peak / 1024:.0f} MB during the stream (growth {(peak - int(sys.argv[1])) / 1024:.0f} MB)")
PY
echo '```'
} > "$OUT"
cat "$OUT"
