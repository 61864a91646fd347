// Fixed files written onto every workspace server. They contain no per-workspace values: the
// script and the unit read those from the env file, so nothing user-controlled is ever
// interpolated into shell code.

export const envFilePath = "/etc/cloud-ai-workspaces/agent.env";
export const bootstrapScriptPath = "/usr/local/lib/cloud-ai-workspaces/bootstrap.sh";
export const agentServiceName = "cloud-ai-workspaces-agent.service";
export const bootstrapServiceName = "cloud-ai-workspaces-bootstrap.service";
export const bootstrapServicePath = `/etc/systemd/system/${bootstrapServiceName}`;
export const agentServicePath = `/etc/systemd/system/${agentServiceName}`;
export const agentBinaryPath = "/usr/local/bin/cloud-ai-workspaces-agent";
export const bootstrapLogPath = "/var/log/cloud-ai-workspaces-bootstrap.log";
export const workspaceDirectory = "/workspace";
/** The unprivileged user terminals run as; it owns /workspace and has sudo. */
export const workspaceUser = "workspace";

// The bash below is a plain template literal: `\${` and `\\` are bash's own `${` and `\`,
// and only the fixed paths above are interpolated.
export const bootstrapScript = `#!/usr/bin/env bash
# Cloud AI Workspaces bootstrap: creates the workspace user, mounts the workspace volume,
# installs the agent and starts it, reporting each step to the control plane. Its unit runs
# it on every boot: every step checks before it changes anything, so a restart (even one in
# the middle of a download) only redoes what is missing.
set -euo pipefail
# Let the ERR trap fire inside functions too.
set -o errtrace

readonly env_file=${envFilePath}
readonly log_file=${bootstrapLogPath}
readonly agent_path=${agentBinaryPath}
readonly agent_unit=${agentServiceName}
readonly workspace_dir=${workspaceDirectory}
# The whole download may take this long; a stalled connection is given up after 30 s.
readonly download_deadline_seconds=600
step=bootstrap
scratch=""

log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"
  printf '%s\\n' "$line" >>"$log_file"
  printf '%s\\n' "$line" >&2
}

# POSTs one step to the control plane with the bootstrap token (read from stdin by curl, so
# it is never on a command line). Best effort: a report that cannot be sent never stops the
# boot. python3 is on every server cloud-init runs on; it encodes the JSON.
report_progress() {
  local status="$1" message="\${2:-}" tail_lines="\${3:-0}" body
  body="$(mktemp)"
  python3 - "$step" "$status" "$message" "$tail_lines" "$log_file" >"$body" <<'PY' || true
import json, sys
step, status, message, tail_lines, log_file = sys.argv[1:6]
report = {"step": step, "status": status}
if message:
    report["message"] = message[:500]
if int(tail_lines) > 0:
    try:
        with open(log_file, encoding="utf-8", errors="replace") as log:
            report["logTail"] = "".join(log.readlines()[-int(tail_lines):])[-8000:]
    except OSError:
        pass
print(json.dumps(report))
PY
  printf 'Authorization: Bearer %s\\n' "$BOOTSTRAP_TOKEN" |
    curl --silent --output /dev/null --max-time 10 --retry 2 --retry-all-errors \\
      --header @- --header 'Content-Type: application/json' --data-binary @"$body" \\
      "$CONTROL_PLANE_URL/api/agent/boot-progress" || log "could not report $step $status"
  rm -f "$body"
}

begin() {
  step="$1"
  log "step $step started"
  report_progress started
}

finish() {
  log "step $step done\${1:+: $1}"
  report_progress "done" "\${1:-}"
}

fail() {
  log "error: $*"
  report_progress failed "$*" 40
  # Reported once: the ERR trap must not report this exit again.
  trap - ERR
  exit 1
}

cleanup() {
  if [ -n "$scratch" ]; then rm -rf "$scratch"; fi
}

# BASH_COMMAND is the command's text before expansion: it never holds a secret's value.
trap 'status=$?; fail "$BASH_COMMAND failed with exit status $status (line $LINENO)"' ERR
trap cleanup EXIT

# The unprivileged user the terminals run as; it owns /workspace and may use sudo.
ensure_workspace_user() {
  local groups=""
  if [ -z "$WORKSPACE_USER" ]; then return 0; fi
  begin workspace-user
  if ! id -u "$WORKSPACE_USER" >/dev/null 2>&1; then
    for group in sudo docker; do
      if getent group "$group" >/dev/null; then groups="$groups,$group"; fi
    done
    if getent passwd 1000 >/dev/null; then
      useradd --create-home --shell /bin/bash --groups "\${groups#,}" "$WORKSPACE_USER"
    else
      useradd --create-home --shell /bin/bash --uid 1000 --groups "\${groups#,}" "$WORKSPACE_USER"
    fi
  fi
  if [ -d /etc/sudoers.d ]; then
    printf '%s ALL=(ALL) NOPASSWD:ALL\\n' "$WORKSPACE_USER" >/etc/sudoers.d/workspace.new
    chmod 0440 /etc/sudoers.d/workspace.new
    mv -f /etc/sudoers.d/workspace.new /etc/sudoers.d/workspace
  else
    log "sudo is not installed: $WORKSPACE_USER gets no sudo"
  fi
  finish "user $WORKSPACE_USER (uid $(id -u "$WORKSPACE_USER"))"
}

# blkid exits 2 when it finds no signature at all; any other failure must not lead to mkfs.
has_filesystem() {
  local status=0
  blkid -p "$1" >/dev/null 2>&1 || status=$?
  case "$status" in
    0) return 0 ;;
    2) return 1 ;;
    *) fail "blkid could not probe $1 (exit $status); refusing to format it" ;;
  esac
}

wait_for_device() {
  local attempt
  for attempt in $(seq 1 30); do
    if [ -b "$1" ]; then return 0; fi
    log "waiting for $1 ($attempt/30)"
    sleep 2
  done
  fail "volume device $1 did not appear within 60 s: is volume $VOLUME_ID attached to this server?"
}

mount_volume() {
  local device="/dev/disk/by-id/scsi-0HC_Volume_$VOLUME_ID"
  local uuid
  begin mount-volume
  wait_for_device "$device"
  if ! has_filesystem "$device"; then
    log "formatting $device as ext4"
    mkfs.ext4 -q -F "$device"
  fi
  uuid="$(blkid -p -s UUID -o value "$device")"
  if [ -z "$uuid" ]; then fail "no filesystem UUID on $device"; fi
  mkdir -p "$workspace_dir"
  if ! grep -qF "UUID=$uuid " /etc/fstab; then
    log "adding $workspace_dir to /etc/fstab"
    printf 'UUID=%s %s ext4 discard,nofail,defaults 0 2\\n' "$uuid" "$workspace_dir" >>/etc/fstab
  fi
  # By device, not through fstab: a UUID that does not resolve (yet) with "nofail" makes
  # \`mount /workspace\` succeed without mounting anything. fstab is for later boots.
  if ! mountpoint -q "$workspace_dir"; then
    log "mounting $device at $workspace_dir"
    mount -t ext4 -o discard,defaults "$device" "$workspace_dir"
  fi
  if ! mountpoint -q "$workspace_dir"; then fail "$device is still not mounted at $workspace_dir"; fi
  finish "$device at $workspace_dir"
}

prepare_workspace_dir() {
  if [ -n "$VOLUME_ID" ]; then mount_volume; else mkdir -p "$workspace_dir"; fi
  if [ -n "$WORKSPACE_USER" ]; then chown "$WORKSPACE_USER:" "$workspace_dir"; fi
}

has_expected_checksum() {
  printf '%s  %s\\n' "$AGENT_SHA256" "$1" | sha256sum -c --status -
}

# Resumable: each attempt continues the partial file (-C -); every attempt has a time limit
# and the whole download a deadline, so a stalled control plane fails the boot in minutes.
fetch() {
  local url="$1" output="$2" encoding="$3" started attempt
  started="$(date +%s)"
  for attempt in $(seq 1 10); do
    if curl --fail --silent --show-error --location --continue-at - \\
      --connect-timeout 10 --max-time 300 --speed-limit 1024 --speed-time 30 \\
      --header "Accept-Encoding: $encoding" --output "$output" "$url" 2>>"$log_file"; then
      return 0
    fi
    if [ $(($(date +%s) - started)) -ge "$download_deadline_seconds" ]; then break; fi
    log "download attempt $attempt failed; resuming in 3 s"
    sleep 3
  done
  fail "could not download the agent from $url after $attempt attempts in $(($(date +%s) - started)) s (curl's errors are in the log)"
}

download_agent() {
  begin download-agent
  # Same directory as the target, so the final mv is an atomic rename even while it runs.
  scratch="$(mktemp -d "$agent_path.download.XXXXXX")"
  if command -v zstd >/dev/null; then
    fetch "$AGENT_DOWNLOAD_URL" "$scratch/agent.zst" zstd
    zstd --quiet --decompress --force -o "$scratch/agent" "$scratch/agent.zst"
  else
    fetch "$AGENT_DOWNLOAD_URL" "$scratch/agent" identity
  fi
  finish "agent $AGENT_VERSION, $(stat -c %s "$scratch/agent") bytes"
  begin verify-agent
  if ! has_expected_checksum "$scratch/agent"; then
    fail "the downloaded agent does not match SHA-256 $AGENT_SHA256; refusing to run it"
  fi
  chmod 0755 "$scratch/agent"
  mv -f "$scratch/agent" "$agent_path"
  finish "SHA-256 matches"
}

install_agent() {
  if [ -x "$agent_path" ] && has_expected_checksum "$agent_path"; then
    log "agent $AGENT_VERSION is already installed"
    return 0
  fi
  download_agent
}

# Started here, after every check, so an unverified agent never runs; watched for a few
# seconds so that a crash loop is reported with its log instead of a boot timeout.
start_agent() {
  local restarts
  begin start-agent
  systemctl start --no-block "$agent_unit"
  sleep 10
  restarts="$(systemctl show --property=NRestarts --value "$agent_unit")"
  if [ "$restarts" -ge 3 ]; then
    journalctl --unit "$agent_unit" --lines 30 --no-pager >>"$log_file" 2>&1 || true
    fail "the agent keeps exiting ($restarts restarts in 10 s)"
  fi
  finish "$(systemctl is-active "$agent_unit" || true)"
}

main() {
  # The env file is quoted so that bash and systemd's EnvironmentFile= read the same values.
  # shellcheck source=/dev/null
  . "$env_file"
  begin bootstrap
  log "bootstrap started for workspace $WORKSPACE_ID"
  ensure_workspace_user
  prepare_workspace_dir
  install_agent
  start_agent
  step=bootstrap
  finish "the agent is starting"
}

main "$@"
`;

// Runs the bootstrap on every boot (cloud-init's runcmd runs once per server): after a
// restart it mounts the volume again, checks the agent and starts it.
export const bootstrapServiceUnit = `[Unit]
Description=Cloud AI Workspaces bootstrap (workspace user, volume, agent)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${bootstrapScriptPath}
# The download has its own deadline (10 min); this only stops a script that hangs.
TimeoutStartSec=20min

[Install]
WantedBy=multi-user.target
`;

// Not enabled on its own: the bootstrap starts it once everything is checked.
export const agentServiceUnit = `[Unit]
Description=Cloud AI Workspaces agent
Wants=network-online.target
After=network-online.target
# Never start on the root disk's empty /workspace when the volume failed to mount.
RequiresMountsFor=${workspaceDirectory}
# Keep restarting however often it crashes; the control plane's backstops decide when to give up.
StartLimitIntervalSec=0

[Service]
Type=simple
EnvironmentFile=${envFilePath}
WorkingDirectory=${workspaceDirectory}
ExecStart=${agentBinaryPath}
Restart=always
RestartSec=2
`;
