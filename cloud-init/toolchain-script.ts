import { agentServiceName, bootstrapServiceName, envFilePath } from "./bootstrap-script.ts";

// The workspace toolchain (docs/adr/0011): git, tmux and zstd from OS packages, the Docker
// engine from the server image, Node, npm and the devcontainer CLI as one archive served by
// the control plane. A oneshot unit ordered after the agent, so the terminal never waits for
// it; its progress goes to the control plane (step "toolchain", optional: a failure is
// recorded, the workspace keeps running).
//
// Fixed text like bootstrap-script.ts: per-workspace values come from the env file. The script
// is a String.raw (bash's backslashes stay as they are) without any `${`, and the fixed paths
// below fill its @NAME@ placeholders.

export const toolchainScriptPath = "/usr/local/lib/cloud-ai-workspaces/toolchain.sh";
export const toolchainServiceName = "cloud-ai-workspaces-toolchain.service";
export const toolchainServicePath = `/etc/systemd/system/${toolchainServiceName}`;
export const toolchainLogPath = "/var/log/cloud-ai-workspaces-toolchain.log";
/** What the archive unpacks to: node/ (bin/node, bin/npm, bin/npx), devcontainer/, bin/devcontainer. */
export const toolchainInstallDirectory = "/opt/cloud-ai-workspaces/toolchain";
/** node, npm, npx and devcontainer are linked here (on every login PATH). */
export const toolchainBinDirectory = "/usr/local/bin";
const cacheDirectory = "/var/cache/cloud-ai-workspaces";

const script = String.raw`#!/usr/bin/env bash
# Cloud AI Workspaces toolchain: git, tmux and zstd from OS packages; Node, npm and the
# devcontainer CLI from the control plane. Runs after the agent has started; idempotent, so a
# restart only checks that everything is in place.
set -euo pipefail
set -o errtrace

# Empty on a server; the tests run the script against a folder.
root="$(printenv CAW_ROOT || true)"
readonly root
readonly env_file="$root@ENV_FILE@"
readonly log_file="$root@LOG_FILE@"
readonly install_dir="$root@INSTALL_DIR@"
readonly bin_dir="$root@BIN_DIR@"
readonly cache_dir="$root@CACHE_DIR@"
# Each of these commands comes from the package of the same name.
readonly packages="git tmux zstd"
readonly retry_pause=5
fail_code=1
arch=""
archive=""
staging=""

log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"
  printf '%s\n' "$line" >>"$log_file"
  printf '%s\n' "$line" >&2
}

# $1 as a JSON string: backslashes and quotes escaped, lines joined with \n, control
# characters dropped.
json_string() {
  local text
  text="$(printf '%s' "$1" | LC_ALL=C sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/[[:cntrl:]]//g' |
    sed -e ':a' -e 'N' -e '$!ba' -e 's/\n/\\n/g')"
  printf '"%s"' "$text"
}

# report_progress <step> <status> [message] [log tail]: POST /api/agent/boot-progress. Best
# effort: a control plane that does not answer never stops the toolchain. The token goes to
# curl on stdin, so it never appears in a process list.
report_progress() {
  local body
  body="{\"step\":$(json_string "$1"),\"status\":$(json_string "$2")"
  if [ "$#" -ge 3 ] && [ -n "$3" ]; then
    body="$body,\"message\":$(json_string "$(printf '%s' "$3" | head -c 500)")"
  fi
  if [ "$#" -ge 4 ] && [ -n "$4" ]; then body="$body,\"logTail\":$(json_string "$4")"; fi
  body="$body}"
  printf 'Authorization: Bearer %s\n' "$BOOTSTRAP_TOKEN" |
    curl --silent --show-error --max-time 10 --output /dev/null --fail \
      --header @- --header 'Content-Type: application/json' --data-binary "$body" \
      "$CONTROL_PLANE_URL/api/agent/boot-progress" >>"$log_file" 2>&1 ||
    log "could not report progress ($1 $2)"
}

# report_failure <step> <message>: the message and the end of the log go to the control plane.
report_failure() {
  log "error: $2"
  report_progress "$1" failed "$2" "$(tail -c 6000 "$log_file" 2>/dev/null || true)"
}

fail() {
  report_failure toolchain "$*"
  exit "$fail_code"
}

# For what a restart cannot fix: exit code 2, which the unit does not restart on.
give_up() {
  fail_code=2
  fail "$@"
}

cleanup() {
  if [ -n "$staging" ]; then rm -rf "$staging"; fi
}

trap 'fail "command failed at line $LINENO"' ERR
trap cleanup EXIT

install_packages() {
  local name missing="" attempt
  for name in $packages; do
    if ! command -v "$name" >/dev/null 2>&1; then missing="$missing $name"; fi
  done
  if [ -z "$missing" ]; then
    log "$packages are installed"
    return 0
  fi
  log "installing OS packages:$missing"
  report_progress packages started "installing$missing"
  for attempt in 1 2 3; do
    # shellcheck disable=SC2086 # one word per package
    if timeout 300 apt-get -q -o DPkg::Lock::Timeout=120 update >>"$log_file" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -q -y -o DPkg::Lock::Timeout=120 \
        install --no-install-recommends $missing >>"$log_file" 2>&1; then
      report_progress packages "done" "installed$missing"
      return 0
    fi
    log "apt-get failed (attempt $attempt/3)"
    sleep "$retry_pause"
  done
  # The rest of the toolchain may still work; it needs only zstd (checked before unpacking).
  report_failure packages "could not install$missing with apt-get"
}

detect_arch() {
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) give_up "no toolchain for this machine ($(uname -m)); only amd64 and arm64 are built" ;;
  esac
}

has_checksum() {
  printf '%s  %s\n' "$TOOLCHAIN_SHA256" "$1" | sha256sum -c --status - 2>/dev/null
}

is_installed() {
  [ -x "$install_dir/node/bin/node" ] && [ -x "$install_dir/bin/devcontainer" ] &&
    [ "$(cat "$install_dir/.archive-sha256" 2>/dev/null || true)" = "$TOOLCHAIN_SHA256" ]
}

# A cut download resumes (curl -C -); a complete one that does not match starts over.
download_archive() {
  local url="$CONTROL_PLANE_URL/agent/toolchain?arch=$arch" attempt status
  mkdir -p "$cache_dir"
  archive="$cache_dir/toolchain-$arch.tar.zst"
  for attempt in 1 2 3; do
    if [ -f "$archive" ] && has_checksum "$archive"; then return 0; fi
    log "downloading the toolchain from $url (attempt $attempt/3)"
    status=0
    curl --fail --silent --show-error --location -C - \
      --connect-timeout 20 --max-time 900 --speed-limit 10000 --speed-time 60 \
      --retry 5 --retry-all-errors --retry-delay 3 \
      --output "$archive" "$url" >>"$log_file" 2>&1 || status=$?
    if has_checksum "$archive"; then return 0; fi
    if [ "$status" -eq 0 ]; then
      log "the download does not match TOOLCHAIN_SHA256; starting over"
      rm -f "$archive"
    else
      log "curl stopped with exit code $status"
      sleep "$retry_pause"
    fi
  done
  rm -f "$archive"
  fail "could not download a toolchain matching TOOLCHAIN_SHA256 from $url"
}

# Unpacked aside, checked file by file, then renamed into place.
unpack_archive() {
  if ! command -v zstd >/dev/null 2>&1; then fail "zstd is missing, so the toolchain cannot be unpacked"; fi
  mkdir -p "$(dirname "$install_dir")"
  staging="$(mktemp -d "$install_dir.XXXXXX")"
  zstd -q -dc "$archive" | tar -x -C "$staging" --no-same-owner
  if ! (cd "$staging" && sha256sum -c --quiet --strict SHA256SUMS) >>"$log_file" 2>&1; then
    fail "the unpacked toolchain does not match its SHA256SUMS"
  fi
  printf '%s\n' "$TOOLCHAIN_SHA256" >"$staging/.archive-sha256"
  chmod 0755 "$staging"
  rm -rf "$install_dir.old"
  if [ -e "$install_dir" ]; then mv "$install_dir" "$install_dir.old"; fi
  mv "$staging" "$install_dir"
  staging=""
  rm -rf "$install_dir.old" "$archive"
  log "unpacked the toolchain into $install_dir"
}

link_tools() {
  mkdir -p "$bin_dir"
  ln -sfn "$install_dir/node/bin/node" "$bin_dir/node"
  ln -sfn "$install_dir/node/bin/npm" "$bin_dir/npm"
  ln -sfn "$install_dir/node/bin/npx" "$bin_dir/npx"
  # Last: the agent takes the devcontainer CLI's arrival as the toolchain being ready.
  ln -sfn "$install_dir/bin/devcontainer" "$bin_dir/devcontainer"
}

read_settings() {
  # The env file is quoted so that bash and systemd's EnvironmentFile= read the same values.
  # shellcheck source=/dev/null
  . "$env_file"
  # Older user data has no TOOLCHAIN_SHA256.
  if ! declare -p TOOLCHAIN_SHA256 >/dev/null 2>&1; then TOOLCHAIN_SHA256=""; fi
}

main() {
  mkdir -p "$(dirname "$log_file")"
  read_settings
  install_packages
  log "toolchain started"
  report_progress toolchain started
  if [ -z "$TOOLCHAIN_SHA256" ]; then
    give_up "the control plane has no toolchain build (TOOLCHAIN_SHA256 is empty): run npm run build there"
  fi
  detect_arch
  if is_installed; then
    log "the toolchain is already installed"
  else
    download_archive
    unpack_archive
  fi
  link_tools
  if ! command -v docker >/dev/null 2>&1; then
    log "docker is not installed: the server image should be Hetzner's docker-ce app"
  fi
  local versions
  versions="node $("$install_dir/node/bin/node" --version), devcontainer CLI $("$install_dir/bin/devcontainer" --version)"
  log "toolchain ready: $versions"
  report_progress toolchain "done" "$versions"
}

main "$@"
`;

const placeholders: Record<string, string> = {
  "@ENV_FILE@": envFilePath,
  "@LOG_FILE@": toolchainLogPath,
  "@INSTALL_DIR@": toolchainInstallDirectory,
  "@BIN_DIR@": toolchainBinDirectory,
  "@CACHE_DIR@": cacheDirectory,
};

export const toolchainScript = script.replace(/@[A-Z_]+@/g, (name) => {
  const value = placeholders[name];
  if (value === undefined) throw new Error(`toolchain-script.ts: no value for ${name}`);
  return value;
});

export const toolchainServiceUnit = `[Unit]
Description=Cloud AI Workspaces toolchain (git, tmux, Node, the devcontainer CLI)
Wants=network-online.target
# After the bootstrap has started the agent, never before: the terminal must not wait for the
# toolchain. Ordering only: neither needs the other.
After=network-online.target ${bootstrapServiceName} ${agentServiceName}
StartLimitIntervalSec=1h
StartLimitBurst=3

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${toolchainScriptPath}
TimeoutStartSec=45min
Restart=on-failure
RestartSec=60
RestartPreventExitStatus=2
# Background work: the agent and the terminal come first.
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7

[Install]
WantedBy=multi-user.target
`;
