import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  agentServicePath,
  bootstrapScriptPath,
  bootstrapServicePath,
  envFilePath,
  workspaceDirectory,
} from "./bootstrap-script.ts";
import { toolchainScriptPath, toolchainServicePath } from "./toolchain-script.ts";
import { assertUserDataSize, maxUserDataBytes, renderUserData } from "./render-user-data.ts";
import type { UserDataInput } from "./render-user-data.ts";

const run = promisify(execFile);

const input: UserDataInput = {
  workspaceId: "0b6f4c1e-8a4e-4c3b-9f1a-2d3c4b5a6e7f",
  controlPlaneUrl: "https://workspaces.example.com",
  agentDownloadUrl: "https://workspaces.example.com/agent/download?arch=amd64",
  agentSha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  agentVersion: "0.1.0",
  bootstrapToken: "Zm9vYmFyLWJvb3RzdHJhcC10b2tlbi0xMjM0NTY3OA",
  volumeId: "102030405",
  repository: "octo-org/hello-world",
  branch: "main",
  idleTimeoutMinutes: 30,
  agentTls: "origin-ca",
};

// Everything a shell or YAML could misread; git allows most of these in branch names.
const hostile: UserDataInput = {
  ...input,
  repository: `evil/repo" '; reboot; echo '`,
  branch: "main; rm -rf / $(reboot) `id` ${HOME} \"x\" 'y' \\z #c: - [a] ü😀",
};

// A missing tool skips the test locally (reported as skipped, never as passed) and fails it
// in CI, which installs every tool (.ci/run).
const tools = {
  "cloud-init": succeeds("cloud-init", ["--version"]),
  shellcheck: succeeds("shellcheck", ["--version"]),
  "python3 with PyYAML": succeeds("python3", ["-c", "import yaml"]),
};

function succeeds(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: "ignore" }).status === 0;
}

function itWithTool(tool: keyof typeof tools, title: string, body: () => Promise<void>) {
  const available = tools[tool];
  const name = available ? title : `${title} (${tool} is not on PATH)`;
  it.skipIf(!available && !process.env.CI)(name, async () => {
    expect(available, `${tool} must be on PATH in CI; .ci/run installs it`).toBe(true);
    await body();
  });
}

/** The lines of one write_files entry, from its `- path:` to the next entry or key. */
function extractEntry(userData: string, filePath: string): string[] {
  const lines = userData.split("\n");
  const start = lines.indexOf(`  - path: ${JSON.stringify(filePath)}`);
  expect(start, `write_files entry for ${filePath}`).toBeGreaterThan(0);
  const end = lines.findIndex((line, index) => index > start && /^ {0,2}\S/.test(line));
  return lines.slice(start, end);
}

/** The text of a `content: |` literal block, decoded as YAML does (clip chomping). */
function extractContent(userData: string, filePath: string): string {
  const entry = extractEntry(userData, filePath);
  const header = entry.indexOf("    content: |");
  expect(header, `literal content block for ${filePath}`).toBeGreaterThan(0);
  const body = entry.slice(header + 1).map((line) => line.slice(6));
  return `${body.join("\n").replace(/\n+$/, "")}\n`;
}

describe("renderUserData", () => {
  let directory: string;
  let fileCount = 0;

  beforeAll(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), "render-user-data-"));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function writeTemp(text: string): Promise<string> {
    const file = path.join(directory, `file-${(fileCount += 1)}`);
    await writeFile(file, text);
    return file;
  }

  it("renders cloud-config that writes the files and runs the bootstrap, with no apt step first", () => {
    const lines = renderUserData(input).split("\n");
    expect(lines[0]).toBe("#cloud-config");
    // package_update/packages ran before runcmd and held the agent back for minutes.
    expect(lines.some((line) => /^package|^packages:/.test(line))).toBe(false);
    expect(lines).toContain("ssh_pwauth: false");
    const runcmd = lines.slice(lines.indexOf("runcmd:") + 1, -1);
    expect(runcmd).toEqual([
      "  - set -e",
      '  - ["systemctl", "daemon-reload"]',
      '  - ["systemctl", "enable", "cloud-ai-workspaces-bootstrap.service"]',
      '  - ["systemctl", "start", "cloud-ai-workspaces-bootstrap.service"]',
      '  - ["systemctl", "enable", "cloud-ai-workspaces-toolchain.service"]',
      '  - ["systemctl", "start", "--no-block", "cloud-ai-workspaces-toolchain.service"]',
    ]);
  });

  it("writes the env file readable by root only, with every setting", () => {
    const userData = renderUserData(input);
    const entry = extractEntry(userData, envFilePath);
    expect(entry).toContain('    permissions: "0600"');
    expect(entry).toContain('    owner: "root:root"');
    expect(extractContent(userData, envFilePath).split("\n")).toEqual([
      'CONTROL_PLANE_URL="https://workspaces.example.com"',
      `WORKSPACE_ID="${input.workspaceId}"`,
      `BOOTSTRAP_TOKEN="${input.bootstrapToken}"`,
      'AGENT_VERSION="0.1.0"',
      `AGENT_DOWNLOAD_URL="${input.agentDownloadUrl}"`,
      `AGENT_SHA256="${input.agentSha256}"`,
      'VOLUME_ID="102030405"',
      'REPOSITORY="octo-org/hello-world"',
      'BRANCH="main"',
      'IDLE_TIMEOUT_MINUTES="30"',
      'WORKSPACE_USER="workspace"',
      'AGENT_TLS="origin-ca"',
      'AGENT_PORT="443"',
      'TOOLCHAIN_SHA256=""',
      "",
    ]);
  });

  it("writes an executable bootstrap script that mounts the volume and verifies the agent", async () => {
    const userData = renderUserData(input);
    expect(extractEntry(userData, bootstrapScriptPath)).toContain('    permissions: "0755"');
    const script = extractContent(userData, bootstrapScriptPath);
    expect(script.split("\n").slice(0, 6)).toContain("set -euo pipefail");
    expect(script.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(script).toContain('line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"');
    expect(script).toContain('>>"$log_file"');
    expect(script).toContain("readonly log_file=/var/log/cloud-ai-workspaces-bootstrap.log");
    expect(script).toContain('"/dev/disk/by-id/scsi-0HC_Volume_$VOLUME_ID"');
    expect(script).toContain('blkid -p "$1"');
    expect(script).toContain('mkfs.ext4 -q -F "$device"');
    expect(script).toContain('grep -qF "UUID=$uuid " /etc/fstab');
    expect(script).toContain(`readonly workspace_dir=${workspaceDirectory}`);
    expect(script).toContain("--continue-at -");
    expect(script).toContain("--max-time 300");
    expect(script).toContain('"$CONTROL_PLANE_URL/api/agent/boot-progress"');
    expect(script).toContain("sha256sum -c --status -");
    expect(script).toContain("readonly agent_path=/usr/local/bin/cloud-ai-workspaces-agent");
    await run("bash", ["-n", await writeTemp(script)]);
  });

  it("writes a systemd unit that restarts the agent with its env file, started by the bootstrap only", () => {
    const unit = extractContent(renderUserData(input), agentServicePath).split("\n");
    for (const line of [
      "Wants=network-online.target",
      "After=network-online.target",
      `EnvironmentFile=${envFilePath}`,
      "ExecStart=/usr/local/bin/cloud-ai-workspaces-agent",
      "Restart=always",
      "RestartSec=2",
    ]) {
      expect(unit).toContain(line);
    }
    expect(unit).not.toContain("[Install]");
  });

  it("runs the bootstrap on every boot from a oneshot unit", () => {
    const unit = extractContent(renderUserData(input), bootstrapServicePath).split("\n");
    for (const line of [
      "Type=oneshot",
      "RemainAfterExit=yes",
      `ExecStart=${bootstrapScriptPath}`,
      "WantedBy=multi-user.target",
    ])
      expect(unit).toContain(line);
  });

  it("serves plain HTTP on 80 when TLS is off (no Cloudflare in front)", () => {
    const env = extractContent(renderUserData({ ...input, agentTls: "off" }), envFilePath);
    expect(env.split("\n")).toEqual(expect.arrayContaining(['AGENT_TLS="off"', 'AGENT_PORT="80"']));
  });

  it("leaves VOLUME_ID empty without a volume, so the script only creates /workspace", () => {
    const env = extractContent(renderUserData({ ...input, volumeId: undefined }), envFilePath);
    expect(env.split("\n")).toContain('VOLUME_ID=""');
  });

  it("quotes hostile repository and branch values so bash reads them back verbatim", async () => {
    const userData = renderUserData(hostile);
    const env = extractContent(userData, envFilePath);
    expect(env).toContain(
      'BRANCH="main; rm -rf / \\$(reboot) \\`id\\` \\${HOME} \\"x\\" \'y\' \\\\z #c: - [a] ü😀"',
    );
    // The values appear nowhere but in the env file; the scripts only reference variables.
    const mentions = userData.split("\n").filter((line) => line.includes("reboot"));
    expect(mentions).toHaveLength(2);
    for (const line of mentions) expect(line).toMatch(/^ {6}(BRANCH|REPOSITORY)="/);
    const { stdout } = await run("bash", [
      "-c",
      'set -eu; . "$1"; printf "%s\\0" "$REPOSITORY" "$BRANCH" "$BOOTSTRAP_TOKEN"',
      "bash",
      await writeTemp(env),
    ]);
    expect(stdout.split("\0")).toEqual([
      hostile.repository,
      hostile.branch,
      hostile.bootstrapToken,
      "",
    ]);
  });

  it("is deterministic", () => {
    const reordered = Object.fromEntries(Object.entries(input).reverse()) as UserDataInput;
    expect(renderUserData(reordered)).toBe(renderUserData(input));
  });

  it("stays under the 32 KiB limit even for the longest input the schema allows", () => {
    const bytes = (text: string) => new TextEncoder().encode(text).length;
    // Room left for what comes next: the scripts take about two thirds today.
    expect(bytes(renderUserData(input))).toBeLessThan((maxUserDataBytes * 3) / 4);
    const longest = { ...input, repository: "€".repeat(512), branch: "€".repeat(255) };
    expect(bytes(renderUserData(longest))).toBeLessThanOrEqual(maxUserDataBytes);
  });

  it("refuses text over the limit, counting UTF-8 bytes rather than characters", () => {
    expect(() => assertUserDataSize("a".repeat(maxUserDataBytes))).not.toThrow();
    // 16 385 characters, 32 770 bytes.
    expect(() => assertUserDataSize("é".repeat(maxUserDataBytes / 2 + 1))).toThrow(
      /32770 bytes but Hetzner accepts at most 32768/,
    );
  });

  it.each<[keyof UserDataInput, unknown]>([
    ["workspaceId", "not-a-uuid"],
    ["controlPlaneUrl", "https://workspaces.example.com/"],
    ["controlPlaneUrl", "ftp://workspaces.example.com"],
    ["controlPlaneUrl", "https://workspaces.example.com?x=1"],
    ["controlPlaneUrl", "not a url"],
    ["controlPlaneUrl", "https://user:pass@workspaces.example.com"],
    ["agentDownloadUrl", "https://elsewhere.example.com/agent/download?arch=amd64"],
    ["agentDownloadUrl", "https://workspaces.example.com/agent/download?arch=riscv64"],
    ["agentSha256", "abc123"],
    ["agentVersion", "1.0; reboot"],
    ["bootstrapToken", "short"],
    ["bootstrapToken", "has spaces and $(reboot) in it"],
    ["volumeId", "vol-1"],
    ["repository", ""],
    ["branch", "main\nEVIL=1"],
    ["branch", "main\u2028EVIL=1"],
    ["branch", "a".repeat(256)],
    ["idleTimeoutMinutes", 2.5],
    ["idleTimeoutMinutes", 241],
    ["agentTls", "flexible"],
    ["toolchainSha256", "abc"],
  ])("names the invalid field %s (%j)", (field, value) => {
    expect(() => renderUserData({ ...input, [field]: value })).toThrow(
      new RegExp(`^Invalid user data input: ${field}: `),
    );
  });

  it("never echoes the bootstrap token in an error", () => {
    const token = "secret token that is invalid";
    expect(() => renderUserData({ ...input, bootstrapToken: token })).toThrow(/bootstrapToken/);
    expect(() => renderUserData({ ...input, bootstrapToken: token })).not.toThrow(/secret/);
  });

  itWithTool("cloud-init", "passes cloud-init schema validation", async () => {
    for (const variant of [input, hostile, { ...input, volumeId: undefined }]) {
      const file = await writeTemp(renderUserData(variant));
      const { stdout } = await run("cloud-init", ["schema", "--config-file", file]);
      expect(stdout).toContain("Valid cloud-config");
    }
  });

  itWithTool("shellcheck", "has a bootstrap script that shellcheck accepts", async () => {
    const script = extractContent(renderUserData(input), bootstrapScriptPath);
    await run("shellcheck", ["-s", "bash", await writeTemp(script)]);
  });

  itWithTool(
    "python3 with PyYAML",
    "parses with PyYAML (cloud-init's parser) as intended",
    async () => {
      const userData = renderUserData(hostile);
      const { stdout } = await run("python3", [
        "-c",
        "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        await writeTemp(userData),
      ]);
      const parsed = JSON.parse(stdout) as {
        write_files: { path: string; permissions: string; content: string }[];
        runcmd: unknown[];
      };
      expect(parsed.write_files.map((file) => [file.path, file.permissions])).toEqual([
        [envFilePath, "0600"],
        [bootstrapScriptPath, "0755"],
        [agentServicePath, "0644"],
        [bootstrapServicePath, "0644"],
        [toolchainScriptPath, "0755"],
        [toolchainServicePath, "0644"],
      ]);
      for (const file of parsed.write_files) {
        expect(file.content).toBe(extractContent(userData, file.path));
      }
      expect(parsed.runcmd[3]).toEqual([
        "systemctl",
        "start",
        "cloud-ai-workspaces-bootstrap.service",
      ]);
    },
  );
});
