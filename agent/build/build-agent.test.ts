import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgent, type BuildAgentOptions, type BuildAgentResult } from "./build-agent.ts";
import { bundleAgent, findPtyAddon } from "./bundle-agent.ts";

const run = promisify(execFile);
const probe = fileURLToPath(new URL("./testing/sea-probe.ts", import.meta.url));
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
// No NODE_OPTIONS, no node_modules on any path: only what the program carries can help it.
const cleanEnvironment = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const environment: Record<string, string> = { PATH: "/usr/bin:/bin", ...extra };
  return environment as NodeJS.ProcessEnv;
};

// One real build for the whole file: it copies and rewrites a ~100 MB Node binary.
describe("the agent single executable", () => {
  let root: string;
  let options: BuildAgentOptions;
  let built: BuildAgentResult;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "agent-build-test-"));
    options = {
      entry: probe,
      outDir: path.join(root, "dist"),
      version: "9.8.7",
      bundleClient: async () => ({ js: "/* probe js */", css: "/* probe css */" }),
    };
    built = await buildAgent(options);
  }, 180_000);
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  const runBinary = async (tmp: string) => {
    const cwd = await mkdtemp(path.join(root, "cwd-"));
    const env = cleanEnvironment({ TMPDIR: tmp });
    const { stdout } = await run(built.path, [], { cwd, env });
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  it("runs a command through node-pty and reads its embedded assets", async () => {
    const tmp = path.join(root, "tmp-run");
    await mkdir(tmp);
    expect(await runBinary(tmp)).toEqual({
      sea: true,
      pty: "sea-ok",
      exitCode: 0,
      css: "/* probe css */",
      js: "/* probe js */",
      missing: null,
      addon: null,
    });
  });

  it("extracts pty.node once, into a private folder, under its SHA-256", async () => {
    const tmp = path.join(root, "tmp-extract");
    await mkdir(tmp);
    await runBinary(tmp);
    const folder = path.join(tmp, `cloud-ai-workspaces-agent-${process.getuid!()}`);
    const addon = path.join(folder, `${sha256(await readFile(findPtyAddon()))}-pty.node`);
    const first = await stat(addon);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);

    await runBinary(tmp);
    expect((await stat(addon)).ino).toBe(first.ino);
  });

  it("writes an executable, its sha256sum line and the manifest", async () => {
    const bytes = await readFile(built.path);
    expect(built).toMatchObject({ file: `agent-${built.target}`, size: bytes.length });
    expect((await stat(built.path)).mode & 0o777).toBe(0o755);
    const checksum = await readFile(`${built.path}.sha256`, "utf8");
    expect(checksum).toBe(`${sha256(bytes)}  ${built.file}\n`);
    const manifest = JSON.parse(await readFile(path.join(root, "dist", "manifest.json"), "utf8"));
    expect(manifest).toEqual({
      version: "9.8.7",
      files: { [built.target]: { file: built.file, sha256: sha256(bytes), size: bytes.length } },
    });
  });

  it("skips the executable when its inputs did not change", async () => {
    const again = await buildAgent(options);
    expect(again).toEqual({ ...built, skipped: true });
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
