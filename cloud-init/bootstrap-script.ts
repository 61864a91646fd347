// Fixed files written onto every workspace server. They contain no per-workspace values: the
// script and the unit read those from the env file, so nothing user-controlled is ever
// interpolated into shell code.

export const envFilePath = "/etc/cloud-ai-workspaces/agent.env";
export const bootstrapScriptPath = "/usr/local/lib/cloud-ai-workspaces/bootstrap.sh";
export const agentServiceName = "cloud-ai-workspaces-agent.service";
export const agentServicePath = `/etc/systemd/system/${agentServiceName}`;
export const agentBinaryPath = "/usr/local/bin/cloud-ai-workspaces-agent";
export const bootstrapLogPath = "/var/log/cloud-ai-workspaces-bootstrap.log";
export const workspaceDirectory = "/workspace";

// The bash below avoids `${…}` so that this template literal interpolates only the fixed paths
// above; `\\n` here is bash's `\n`.
export const bootstrapScript = `#!/usr/bin/env bash
# Cloud AI Workspaces bootstrap: mounts the workspace volume and installs the agent.
# Idempotent: every step checks before it changes anything, so running it twice is safe.
set -euo pipefail
# Let the ERR trap fire inside functions too.
set -o errtrace

readonly env_file=${envFilePath}
readonly log_file=${bootstrapLogPath}
readonly agent_path=${agentBinaryPath}
readonly workspace_dir=${workspaceDirectory}
download=""

log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"
  printf '%s\\n' "$line" >>"$log_file"
  printf '%s\\n' "$line" >&2
}

fail() {
  log "error: $*"
  exit 1
}

cleanup() {
  if [ -n "$download" ]; then rm -f "$download"; fi
}

trap 'log "error: command failed at line $LINENO"' ERR
trap cleanup EXIT

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
  for attempt in $(seq 1 60); do
    if [ -b "$1" ]; then return 0; fi
    log "waiting for $1 ($attempt/60)"
    sleep 2
  done
  fail "volume device $1 did not appear"
}

mount_volume() {
  local device="/dev/disk/by-id/scsi-0HC_Volume_$VOLUME_ID"
  local uuid
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
  if ! mountpoint -q "$workspace_dir"; then
    log "mounting $device at $workspace_dir"
    mount "$workspace_dir"
  fi
}

has_expected_checksum() {
  printf '%s  %s\\n' "$AGENT_SHA256" "$1" | sha256sum -c --status -
}

install_agent() {
  if [ -x "$agent_path" ] && has_expected_checksum "$agent_path"; then
    log "agent $AGENT_VERSION is already installed"
    return 0
  fi
  # Same directory as the target, so the final mv is an atomic rename even while it runs.
  download="$(mktemp "$agent_path.XXXXXX")"
  log "downloading agent $AGENT_VERSION from $AGENT_DOWNLOAD_URL"
  curl --fail --silent --show-error --location \\
    --retry 10 --retry-all-errors --retry-delay 3 \\
    --output "$download" "$AGENT_DOWNLOAD_URL"
  if ! has_expected_checksum "$download"; then
    fail "agent download does not match SHA-256 $AGENT_SHA256"
  fi
  chmod 0755 "$download"
  mv -f "$download" "$agent_path"
  download=""
  log "installed agent $AGENT_VERSION at $agent_path"
}

main() {
  # The env file is quoted so that bash and systemd's EnvironmentFile= read the same values.
  # shellcheck source=/dev/null
  . "$env_file"
  log "bootstrap started for workspace $WORKSPACE_ID"
  if [ -n "$VOLUME_ID" ]; then
    mount_volume
  else
    mkdir -p "$workspace_dir"
  fi
  install_agent
  log "bootstrap finished"
}

main "$@"
`;

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

[Install]
WantedBy=multi-user.target
`;
