import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgent, type BuildAgentOptions, type BuildTargetResult } from "./build-agent.ts";
import { bundleAgent, findPtyAddon } from "./bundle-agent.ts";
import { readElfHeader } from "./elf-header.ts";

const run = promisify(execFile);
const probe = fileURLToPath(new URL("./testing/sea-probe.ts", import.meta.url));
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
// No NODE_OPTIONS, no node_modules on any path: only what the program carries can help it.
const cleanEnvironment = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const environment: Record<string, string> = { PATH: "/usr/bin:/bin", ...extra };
  return environment as NodeJS.ProcessEnv;
};
// The arm64 binary runs under qemu's user-mode emulator with Debian's arm64 C libraries (the
// cross compiler's), so the test needs no arm64 machine and no binfmt registration.
const qemu = "/usr/bin/qemu-aarch64-static";
const arm64Libraries = "/usr/aarch64-linux-gnu";

const decompress = async (file: string, memoryLimit = "128MB") => {
  const { stdout } = await run("zstd", ["-dc", `--memory=${memoryLimit}`, file], {
    encoding: "buffer",
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
};

// One real build of both targets for the whole file: each copies, strips and rewrites a
// ~90 MB Node runtime. The pinned runtimes come from the cache `npm run build` filled
// (offline: a test never reaches the registry); zstd runs at a fast level here.
describe("the agent single executables", () => {
  let root: string;
  let options: BuildAgentOptions;
  let x64: BuildTargetResult;
  let arm64: BuildTargetResult;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "agent-build-test-"));
    options = {
      entry: probe,
      outDir: path.join(root, "dist"),
      version: "9.8.7",
      bundleClient: async () => ({ js: "/* probe js */", css: "/* probe css */" }),
      offline: true,
      zstdLevel: 3,
    };
    const built = await buildAgent(options);
    x64 = built.find((result) => result.target === "linux-x64")!;
    arm64 = built.find((result) => result.target === "linux-arm64")!;
  }, 300_000);
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  const runBinary = async (binary: string, tmp: string, emulator?: string[]) => {
    const cwd = await mkdtemp(path.join(root, "cwd-"));
    const env = cleanEnvironment({ TMPDIR: tmp });
    const [command, args] = emulator
      ? [emulator[0]!, [...emulator.slice(1), binary]]
      : [binary, []];
    const { stdout } = await run(command, args, { cwd, env });
    return JSON.parse(stdout) as Record<string, unknown>;
  };
  const probeReport = {
    sea: true,
    pty: "sea-ok",
    exitCode: 0,
    css: "/* probe css */",
    js: "/* probe js */",
    missing: null,
    addon: null,
  };

  it("runs a command through node-pty and reads its embedded assets", async () => {
    const tmp = path.join(root, "tmp-run");
    await mkdir(tmp);
    expect(await runBinary(x64.path, tmp)).toEqual(probeReport);
  });

  it("extracts pty.node once, into a private folder, under its SHA-256", async () => {
    const tmp = path.join(root, "tmp-extract");
    await mkdir(tmp);
    await runBinary(x64.path, tmp);
    const folder = path.join(tmp, `cloud-ai-workspaces-agent-${process.getuid!()}`);
    const addon = path.join(folder, `${sha256(await readFile(findPtyAddon()))}-pty.node`);
    const first = await stat(addon);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);

    await runBinary(x64.path, tmp);
    expect((await stat(addon)).ino).toBe(first.ino);
  });

  it("makes an x86-64 and an AArch64 executable", async () => {
    expect(await readElfHeader(x64.path)).toEqual({ bits: 64, littleEndian: true, machine: 62 });
    expect(await readElfHeader(arm64.path)).toEqual({ bits: 64, littleEndian: true, machine: 183 });
  });

  it("runs the arm64 executable (emulated) with its own AArch64 pty.node", async () => {
    expect(existsSync(qemu), `${qemu} is missing: apt-get install qemu-user-static`).toBe(true);
    const tmp = path.join(root, "tmp-arm64");
    await mkdir(tmp);
    expect(await runBinary(arm64.path, tmp, [qemu, "-L", arm64Libraries])).toEqual(probeReport);
    // The addon the arm64 binary carried and loaded is the one it wrote out.
    const folder = path.join(tmp, `cloud-ai-workspaces-agent-${process.getuid!()}`);
    const [addon] = await readdir(folder);
    expect(addon).toMatch(/^[0-9a-f]{64}-pty\.node$/);
    expect((await readElfHeader(path.join(folder, addon!))).machine).toBe(183);
  }, 60_000);

  it("writes executables, their sha256sum lines, zstd copies and the manifest", async () => {
    const manifest = JSON.parse(await readFile(path.join(root, "dist", "manifest.json"), "utf8"));
    expect(Object.keys(manifest.files)).toEqual(["linux-arm64", "linux-x64"]);
    for (const built of [x64, arm64]) {
      const bytes = await readFile(built.path);
      expect(built).toMatchObject({ file: `agent-${built.target}`, size: bytes.length });
      expect((await stat(built.path)).mode & 0o777).toBe(0o755);
      const checksum = await readFile(`${built.path}.sha256`, "utf8");
      expect(checksum).toBe(`${sha256(bytes)}  ${built.file}\n`);
      const encoded = await readFile(built.zstd.path);
      expect(encoded.length).toBeLessThan(bytes.length / 2);
      // Decodable within the 8 MiB window RFC 9659 allows for Content-Encoding: zstd.
      expect((await decompress(built.zstd.path, "8MB")).equals(bytes)).toBe(true);
      expect(manifest.files[built.target]).toEqual({
        file: built.file,
        sha256: sha256(bytes),
        size: bytes.length,
        encodings: {
          zstd: { file: `${built.file}.zst`, sha256: sha256(encoded), size: encoded.length },
        },
      });
    }
    expect(manifest.version).toBe("9.8.7");
  });

  it("skips the executables and keeps the zstd copies when the inputs did not change", async () => {
    const again = await buildAgent(options);
    const kept = (built: BuildTargetResult) => ({
      ...built,
      skipped: true,
      zstd: { ...built.zstd, reused: true },
    });
    expect(again).toEqual([kept(x64), kept(arm64)]);
  });

  it("keeps the zstd copy of a rebuilt executable whose bytes did not change", async () => {
    const [forced] = await buildAgent({ ...options, force: true, targets: ["linux-x64"] });
    expect(forced).toMatchObject({ skipped: false, sha256: x64.sha256 });
    expect(forced!.zstd).toEqual({ ...x64.zstd, reused: true });
  });

  it("bundles code that loads pty.node from node_modules when run by plain Node", async () => {
    const folder = await mkdtemp(path.join(root, "bundle-"));
    const bundle = path.join(folder, "agent.cjs");
    await writeFile(bundle, await bundleAgent(probe, findPtyAddon()));
    const { stdout } = await run(process.execPath, [bundle], {
      cwd: folder,
      env: cleanEnvironment(),
    });
    expect(JSON.parse(stdout)).toMatchObject({ sea: false, pty: "sea-ok", exitCode: 0 });
  });
});

// What `npm run build` made (npm test builds before it tests): the real agents, at the real
// compression level, must stay small enough to download quickly on a booting server.
describe("the agent download copies in dist/agent", () => {
  const distDir = fileURLToPath(new URL("../../dist/agent", import.meta.url));

  it("are at most 25 MB each and decompress to the binaries the manifest lists", async () => {
    const text = await readFile(path.join(distDir, "manifest.json"), "utf8").catch(() => {
      throw new Error("dist/agent/manifest.json is missing: run `npm run build` first.");
    });
    const manifest = JSON.parse(text) as {
      files: Record<
        string,
        { sha256: string; encodings: { zstd: { file: string; size: number } } }
      >;
    };
    expect(Object.keys(manifest.files).sort()).toEqual(["linux-arm64", "linux-x64"]);
    for (const entry of Object.values(manifest.files)) {
      expect(entry.encodings.zstd.size).toBeLessThanOrEqual(25_000_000);
      const decoded = await decompress(path.join(distDir, entry.encodings.zstd.file), "8MB");
      expect(sha256(decoded)).toBe(entry.sha256);
    }
  }, 60_000);
});
