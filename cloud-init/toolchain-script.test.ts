import { execFile, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envFilePath } from "./bootstrap-script.ts";
import {
  toolchainBinDirectory,
  toolchainInstallDirectory,
  toolchainLogPath,
  toolchainScript,
  toolchainScriptPath,
  toolchainServiceUnit,
} from "./toolchain-script.ts";

// The toolchain script lint-checked, and run for real against a folder standing in for the
// server's root (CAW_ROOT), with a control plane on loopback that serves a small archive of
// the real layout and records the progress reports. apt-get is a stand-in on PATH: the test
// must not reach the internet. The real archive and the real OS are the boot test's.

const run = promisify(execFile);
const shellcheck = spawnSync("shellcheck", ["--version"], { stdio: "ignore" }).status === 0;

describe("the toolchain script and unit", () => {
  it.skipIf(!shellcheck && !process.env.CI)("passes shellcheck", async () => {
    expect(shellcheck, "shellcheck must be on PATH in CI; .ci/run installs it").toBe(true);
    const folder = await mkdtemp(path.join(os.tmpdir(), "toolchain-lint-"));
    const file = path.join(folder, "toolchain.sh");
    await writeFile(file, toolchainScript);
    await run("shellcheck", ["-s", "bash", file]);
    await rm(folder, { recursive: true, force: true });
  });

  it("has the fixed paths filled in", () => {
    for (const fixed of [envFilePath, toolchainLogPath, toolchainInstallDirectory])
      expect(toolchainScript).toContain(fixed);
    expect(toolchainScript.startsWith("#!/usr/bin/env bash\n")).toBe(true);
  });

  it("runs once the agent has started, never holding it up, and retries what a restart can fix", () => {
    const lines = toolchainServiceUnit.split("\n");
    expect(lines).toContain(
      "After=network-online.target cloud-ai-workspaces-bootstrap.service cloud-ai-workspaces-agent.service",
    );
    expect(lines.filter((line) => /^(Requires|Before|RequiredBy)=/.test(line))).toEqual([]);
    expect(lines).toEqual(
      expect.arrayContaining([
        "Type=oneshot",
        `ExecStart=${toolchainScriptPath}`,
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "WantedBy=multi-user.target",
      ]),
    );
  });
});

type Report = { step: string; status: string; message?: string; logTail?: string };

let root: string;
let bin: string;
let server: http.Server;
let controlPlaneUrl: string;
let archive: Buffer;
let archiveSha256: string;
const reports: Report[] = [];
const requests: string[] = [];

/** The tools the script uses, linked from this machine, without tmux (so it is "missing"). */
const tools = ["bash", "printenv", "date", "sed", "head", "tail", "cat", "rm", "mkdir"]
  .concat(["mktemp", "chmod", "mv", "ln", "dirname", "sha256sum", "curl", "zstd", "tar"])
  .concat(["timeout", "sleep", "uname", "git", "gzip"]);

async function makeArchive(folder: string): Promise<Buffer> {
  const tree = path.join(folder, "tree");
  const files: Record<string, string> = {
    "node/bin/node": "#!/bin/sh\necho v24.22.3\n",
    "node/lib/node_modules/npm/bin/npm-cli.js": "#!/bin/sh\necho 11.21.2\n",
    "node/lib/node_modules/npm/bin/npx-cli.js": "#!/bin/sh\necho 11.21.2\n",
    "bin/devcontainer": "#!/bin/sh\necho 0.89.0\n",
  };
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(tree, name)), { recursive: true });
    await writeFile(path.join(tree, name), text, { mode: 0o755 });
  }
  await symlink("../lib/node_modules/npm/bin/npm-cli.js", path.join(tree, "node/bin/npm"));
  await symlink("../lib/node_modules/npm/bin/npx-cli.js", path.join(tree, "node/bin/npx"));
  const sums = Object.entries(files).map(
    ([name, text]) => `${createHash("sha256").update(text).digest("hex")}  ${name}\n`,
  );
  await writeFile(path.join(tree, "SHA256SUMS"), sums.join(""));
  const file = path.join(folder, "toolchain.tar.zst");
  await run("sh", ["-c", `tar -C "${tree}" -cf - . | zstd -q -o "${file}"`]);
  return readFile(file);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "toolchain-root-"));
  bin = path.join(root, "test-bin");
  await mkdir(bin);
  for (const tool of tools) {
    const { stdout } = await run("sh", ["-c", `command -v ${tool}`]);
    await symlink(stdout.trim(), path.join(bin, tool));
  }
  // The stand-in apt-get records its calls and "installs" tmux.
  const tmux = `printf '#!/bin/sh\\n' > "${bin}/tmux"; chmod 0755 "${bin}/tmux"`;
  const aptGet = `#!/bin/sh\necho "$*" >> "${root}/apt-calls"\ncase "$*" in *install*) ${tmux} ;; esac\n`;
  await writeFile(path.join(bin, "apt-get"), aptGet, { mode: 0o755 });
  archive = await makeArchive(root);
  archiveSha256 = createHash("sha256").update(archive).digest("hex");
  server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url === "/agent/toolchain?arch=amd64") return void res.end(archive);
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const ok = req.headers.authorization === "Bearer cawb_test-token";
      // Anything but JSON shows up as a report the tests do not expect.
      if (ok) reports.push(parseReport(body));
      res.writeHead(ok ? 200 : 401).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  controlPlaneUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (root) await rm(root, { recursive: true, force: true });
});

function parseReport(body: string): Report {
  try {
    return JSON.parse(body) as Report;
  } catch {
    return { step: "not JSON", status: body.slice(0, 200) };
  }
}

async function runScript(sha256: string) {
  const env = path.join(root, envFilePath);
  await mkdir(path.dirname(env), { recursive: true });
  const settings = { CONTROL_PLANE_URL: controlPlaneUrl, BOOTSTRAP_TOKEN: "cawb_test-token" };
  const lines = Object.entries({ ...settings, TOOLCHAIN_SHA256: sha256 });
  await writeFile(env, lines.map(([key, value]) => `${key}="${value}"\n`).join(""));
  const script = path.join(root, "toolchain.sh");
  await writeFile(script, toolchainScript);
  await chmod(script, 0o755);
  // Not spawnSync: the control plane answering the script lives in this process.
  const processEnv = { PATH: bin, CAW_ROOT: root } as unknown as NodeJS.ProcessEnv;
  const child = spawn(path.join(bin, "bash"), [script], { env: processEnv });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stderr };
}

const archiveRequests = () => requests.filter((line) => line.includes("/agent/toolchain")).length;

// The runs build on each other: install, reboot, a tampered archive.
describe.skipIf(process.arch !== "x64")("the toolchain script on a server", () => {
  it("installs missing packages, the archive and the links, and reports started and done", async () => {
    const result = await runScript(archiveSha256);
    expect(result.code, result.stderr).toBe(0);
    const apt = await readFile(path.join(root, "apt-calls"), "utf8");
    expect(apt).toMatch(/update/);
    expect(apt).toMatch(/install --no-install-recommends\s+tmux\n/);
    const links = ["node", "npm", "npx", "devcontainer"].map((name) =>
      readlink(path.join(root, toolchainBinDirectory, name)),
    );
    expect(await Promise.all(links)).toEqual([
      `${root}${toolchainInstallDirectory}/node/bin/node`,
      `${root}${toolchainInstallDirectory}/node/bin/npm`,
      `${root}${toolchainInstallDirectory}/node/bin/npx`,
      `${root}${toolchainInstallDirectory}/bin/devcontainer`,
    ]);
    const npm = await run(path.join(root, toolchainBinDirectory, "npm"));
    expect(npm.stdout.trim()).toBe("11.21.2");
    expect(reports.map(({ step, status }) => `${step} ${status}`)).toEqual([
      "packages started",
      "packages done",
      "toolchain started",
      "toolchain done",
    ]);
    expect(reports[1]?.message).toBe("installed tmux");
    expect(reports.at(-1)?.message).toBe("node v24.22.3, devcontainer CLI 0.89.0");
  });

  it("skips apt and the download after a reboot", async () => {
    await rm(path.join(root, "apt-calls"));
    const before = archiveRequests();
    const result = await runScript(archiveSha256);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("the toolchain is already installed");
    await expect(readFile(path.join(root, "apt-calls"), "utf8")).rejects.toThrow(/ENOENT/);
    expect(archiveRequests()).toBe(before);
    expect(reports.slice(-2).map(({ step, status }) => `${step} ${status}`)).toEqual([
      "toolchain started",
      "toolchain done",
    ]);
  });

  it("refuses an archive that does not match TOOLCHAIN_SHA256, reporting why with the log's tail", async () => {
    const result = await runScript("0".repeat(64));
    expect(result.code).toBe(1);
    const failed = reports.at(-1)!;
    expect(failed).toMatchObject({ step: "toolchain", status: "failed" });
    expect(failed.message).toContain("could not download a toolchain matching TOOLCHAIN_SHA256");
    expect(failed.logTail).toContain("the download does not match TOOLCHAIN_SHA256");
    expect(Buffer.byteLength(failed.logTail!)).toBeLessThanOrEqual(8 * 1024);
    // What was installed before stays; nothing of the rejected archive is left in the cache.
    const marker = await readFile(
      path.join(root, toolchainInstallDirectory, ".archive-sha256"),
      "utf8",
    );
    expect(marker.trim()).toBe(archiveSha256);
    await expect(
      readFile(path.join(root, "var/cache/cloud-ai-workspaces/toolchain-amd64.tar.zst")),
    ).rejects.toThrow(/ENOENT/);
  });

  it("gives up for good (exit 2, no unit restart) when the control plane has no build", async () => {
    const result = await runScript("");
    expect(result.code).toBe(2);
    expect(reports.at(-1)?.message).toContain("TOOLCHAIN_SHA256 is empty");
  });
});
