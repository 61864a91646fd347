#!/usr/bin/env bash
# Builds the image with podman and runs it as an orchestrator would: migrations, then the web
# and the worker on a real PostgreSQL (Debian's, started here), each on a read-only root with
# no capabilities. Checks /healthz, /readyz and /metrics, that PID 1 is node as a non-root user, the
# image's HEALTHCHECK, and that SIGTERM drains and stops each program with status 0.
#
#   deploy/image/smoke-test.sh           # build (cached layers are reused), then test
#   SKIP_BUILD=1 deploy/image/smoke-test.sh
#
# Needs root, podman, runc (Debian's; crun refuses this machine's hybrid cgroups) and
# PostgreSQL 15 at /usr/lib/postgresql/15/bin. Takes 10+ minutes with a cold build cache,
# which is why it is a script and not part of `npm test`. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

image="${IMAGE:-localhost/cloud-ai-workspaces:dev}"
# vfs: overlay is not available in a container; runc and bounded ulimits: see above.
podman=(podman --storage-driver vfs --runtime runc)
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
pg_bin=/usr/lib/postgresql/15/bin
work="$(mktemp -d /tmp/caw-smoke.XXXXXX)"
containers=()
pg_started=""

say() { printf '[smoke] %s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }
cleanup() {
  for id in "${containers[@]}"; do "${podman[@]}" rm -f "$id" >/dev/null 2>&1 || true; done
  if [ -n "$pg_started" ]; then runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
http_status() { node -e 'fetch(process.argv[1]).then(r=>console.log(r.status),()=>console.log("refused"))' "$1"; }
wait_for() { # url expected-status tries
  local status=""
  for _ in $(seq 1 "$3"); do
    status="$(http_status "$1")"
    [ "$status" = "$2" ] && return 0
    sleep 1
  done
  fail "$1 answered $status, expected $2"
}

if [ -z "${SKIP_BUILD:-}" ]; then
  base="$(deploy/image/make-local-base.sh | tail -1)"
  say "building $image on $base"
  ca=()
  # A TLS-intercepting proxy's CA, for npm inside the build (the Dockerfile says how).
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    ca=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/build-ca.crt:ro
      --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/certs/build-ca.crt)
  fi
  # --layers=false: vfs keeps a full copy of the file system per layer; one per stage is enough.
  # --format docker: the OCI image format has no HEALTHCHECK (podman would drop it).
  "${podman[@]}" build --format docker --layers=false --network host "${limits[@]}" "${ca[@]}" \
    --build-arg BASE_IMAGE="$base" -t "$image" . >"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log"; fail "the image did not build"; }
fi
say "image: $("${podman[@]}" image inspect "$image" --format '{{.Id}} {{.Size}} bytes')"

# PostgreSQL on loopback; --network host lets the containers reach it.
pg_port="$(free_port)"
install -d -o postgres -g postgres "$work/pg"
chmod 0711 "$work"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg" -U caw --auth=trust >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w \
  -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1" start >/dev/null
pg_started=1
runuser -u postgres -- "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U caw caw
say "PostgreSQL 15 on 127.0.0.1:$pg_port"

web_port="$(free_port)"
worker_port="$(free_port)"
key="k1:$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64"))')"
settings=(-e DATABASE_URL="postgres://caw@127.0.0.1:$pg_port/caw" -e ENCRYPTION_KEYS="$key"
  -e GITHUB_CLIENT_ID=smoke-client -e GITHUB_CLIENT_SECRET=smoke-secret
  -e WORKSPACE_PROVIDER=hetzner -e DNS_PROVIDER=local -e PUBLIC_URL="http://127.0.0.1:$web_port"
  -e PORT="$web_port" -e WORKER_PORT="$worker_port")
hardening=(--read-only --tmpfs /tmp --tmpfs /var/lib/cloud-ai-workspaces --cap-drop ALL
  --security-opt no-new-privileges --network host "${limits[@]}")

# The programs as the image and the chart start them: the bundled entries of `npm run build`.
# (This probe once ran without the ulimits, failed on this machine, and fell back to tsx: it
# must fail instead.)
entry_of() {
  "${podman[@]}" run --rm "${limits[@]}" --entrypoint test "$image" -f "build/server/$1.js" ||
    fail "the image has no build/server/$1.js"
  echo "node build/server/$1.js"
}
web_entry="$(entry_of web)"
worker_entry="$(entry_of worker)"
say "web entry: $web_entry; worker entry: $worker_entry"

say "migrate"
"${podman[@]}" run --rm "${hardening[@]}" "${settings[@]}" "$image" \
  node --import tsx server/database/migrate-command.ts >"$work/migrate.log" 2>&1 ||
  { cat "$work/migrate.log"; fail "migrations failed"; }

check_program() { # name entry health-url ready-url stopped-pattern
  local name="$1" id status uid
  # shellcheck disable=SC2086 # the entry is words on purpose
  # (podman's complaint that it cannot schedule the HEALTHCHECK without systemd goes to a file:
  # the check is run by hand below.)
  id="$("${podman[@]}" run -d "${hardening[@]}" "${settings[@]}" --name "caw-smoke-$name-$$" \
    "$image" $2 2>>"$work/podman.log")"
  containers+=("$id")
  wait_for "$3" 200 120
  say "$name: $3 answered 200"
  wait_for "$4" 200 30
  say "$name: $4 answered 200"
  local metrics="${3%/healthz}/metrics"
  node -e 'fetch(process.argv[1]).then(async (r) => { const t = await r.text();
    process.exit(r.ok && /^process_cpu_seconds_total /m.test(t) ? 0 : 1) }, () => process.exit(1))' \
    "$metrics" || fail "$name: $metrics did not answer Prometheus metrics"
  say "$name: $metrics answered Prometheus metrics"
  uid="$("${podman[@]}" exec "$id" sh -c 'grep ^Uid: /proc/1/status' | awk '{print $2}')"
  [ "$uid" != "0" ] || fail "$name: PID 1 runs as root"
  say "$name: PID 1 is '$("${podman[@]}" exec "$id" cat /proc/1/comm)' with uid $uid"
  "${podman[@]}" healthcheck run "$id" >/dev/null || fail "$name: the image's HEALTHCHECK failed"
  say "$name: HEALTHCHECK passed"
  local started=$SECONDS
  "${podman[@]}" kill --signal TERM "$id" >/dev/null
  status="$("${podman[@]}" wait "$id")"
  "${podman[@]}" logs "$id" >"$work/$name.log" 2>&1
  [ "$status" = "0" ] || { tail -20 "$work/$name.log"; fail "$name: exited $status after SIGTERM"; }
  grep -q "$5" "$work/$name.log" || { tail -20 "$work/$name.log"; fail "$name: no \"$5\" in its log"; }
  say "$name: SIGTERM -> \"$5\", exit 0, after $((SECONDS - started)) s"
}

check_program web "$web_entry" "http://127.0.0.1:$web_port/healthz" \
  "http://127.0.0.1:$web_port/readyz" "web server stopped"
check_program worker "$worker_entry" "http://127.0.0.1:$worker_port/healthz" \
  "http://127.0.0.1:$worker_port/readyz" "worker stopped"
say "PASS"
