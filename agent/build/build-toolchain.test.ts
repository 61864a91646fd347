import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildToolchain,
  toolchainVersions,
  type BuildToolchainResult,
} from "./build-toolchain.ts";
import { readElfHeader } from "./elf-header.ts";

// One real build of both archives (offline: from the package cache `npm run build` filled, so
// the test never reaches the registry), unpacked and run as a VM would run them.

const run = promisify(execFile);
const cleanPath = "/usr/bin:/bin"; // no Node of this machine's on it

let outDir: string;
let results: BuildToolchainResult[];
const unpacked: Record<string, string> = {};
beforeAll(async () => {
  outDir = await mkdtemp(path.join(tmpdir(), "toolchain-build-"));
  results = await buildToolchain({ outDir: path.join(outDir, "dist"), offline: true });
  for (const result of results) {
    const folder = path.join(outDir, result.arch);
    await mkdir(folder);
    await run("sh", ["-c", `zstd -q -dc "${result.path}" | tar -x -C "${folder}"`]);
    unpacked[result.arch] = folder;
  }
}, 300_000);
afterAll(() => (outDir ? rm(outDir, { recursive: true, force: true }) : undefined));

const sha256Of = async (file: string) =>
  createHash("sha256")
    .update(await readFile(file))
    .digest("hex");

describe("the workspace toolchain build", () => {
  it("writes one archive per architecture and a manifest with their SHA-256", async () => {
    const manifest = JSON.parse(await readFile(path.join(outDir, "dist", "manifest.json"), "utf8"));
    expect(manifest).toMatchObject(toolchainVersions);
    for (const result of results) {
      expect(manifest.files[result.arch]).toEqual({
        file: `toolchain-linux-${result.arch}.tar.zst`,
        sha256: await sha256Of(result.path),
        size: result.size,
      });
    }
    expect(results.map((result) => result.arch)).toEqual(["amd64", "arm64"]);
  });

  it("carries Node for the right machine in each archive", async () => {
    const machineOf = async (arch: string) =>
      (await readElfHeader(path.join(unpacked[arch]!, "node", "bin", "node"))).machine;
    expect(await machineOf("amd64")).toBe(62); // EM_X86_64
    expect(await machineOf("arm64")).toBe(183); // EM_AARCH64
  });

  it.skipIf(process.arch !== "x64")(
    "runs node, npm and devcontainer from the unpacked x64 archive alone",
    async () => {
      const folder = unpacked.amd64!;
      const env = { PATH: `${folder}/node/bin:${cleanPath}` } as unknown as NodeJS.ProcessEnv;
      const version = async (file: string) => (await run(file, ["--version"], { env })).stdout.trim();
      expect(await version(path.join(folder, "node", "bin", "node"))).toBe(`v${toolchainVersions.node}`);
      expect(await version(path.join(folder, "node", "bin", "npm"))).toBe(toolchainVersions.npm);
      expect(await version(path.join(folder, "bin", "devcontainer"))).toBe(
        toolchainVersions.devcontainerCli,
      );
      // `sudo npm install -g` puts tools into /usr/local/bin, which is on every PATH.
      const { stdout } = await run(path.join(folder, "node", "bin", "npm"), ["config", "get", "prefix"], {
        env: { ...env, npm_config_userconfig: "/dev/null" },
      });
      expect(stdout.trim()).toBe("/usr/local");
    },
  );

  it("lists every file in SHA256SUMS, which sha256sum accepts", async () => {
    const folder = unpacked.arm64!;
    await run("sha256sum", ["-c", "--quiet", "--strict", "SHA256SUMS"], { cwd: folder });
    const sums = await readFile(path.join(folder, "SHA256SUMS"), "utf8");
    expect(sums).toMatch(/ {2}node\/bin\/node\n/);
    expect(sums).toMatch(/ {2}devcontainer\/devcontainer\.js\n/);
    expect(await readlink(path.join(folder, "node", "bin", "npm"))).toBe(
      "../lib/node_modules/npm/bin/npm-cli.js",
    );
  });

  it("skips unchanged inputs, and a forced rebuild gives the very same bytes", async () => {
    const again = await buildToolchain({ outDir: path.join(outDir, "dist"), offline: true });
    expect(again.map((result) => result.skipped)).toEqual([true, true]);
    const [forced] = await buildToolchain({
      outDir: path.join(outDir, "dist"),
      offline: true,
      architectures: ["amd64"],
      force: true,
    });
    expect(forced).toMatchObject({ skipped: false, sha256: results[0]!.sha256 });
  }, 120_000);

  it("refuses a devcontainer CLI other than the pinned one", async () => {
    const other = path.join(outDir, "other-cli");
    await mkdir(other);
    await run("sh", ["-c", `echo '{"version":"0.1.0"}' > "${other}/package.json"`]);
    await expect(
      buildToolchain({ outDir: path.join(outDir, "other"), devcontainerCliDir: other }),
    ).rejects.toThrow(/pins @devcontainers\/cli 0\.89\.0, but .* has 0\.1\.0/);
  });
});
