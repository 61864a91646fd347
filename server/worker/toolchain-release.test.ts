import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToolchainReleaseReader } from "./toolchain-release.ts";

describe("createToolchainReleaseReader", () => {
  let distDir: string;
  beforeAll(async () => {
    distDir = await mkdtemp(path.join(tmpdir(), "toolchain-release-"));
  });
  afterAll(() => rm(distDir, { recursive: true, force: true }));

  it("answers null while nothing is built: the toolchain is optional", async () => {
    expect(await createToolchainReleaseReader(distDir)("amd64")).toBeNull();
  });

  it("reads the archive's SHA-256 from the manifest, when the archive is there in full", async () => {
    const sha256 = "ab".repeat(32);
    await writeFile(path.join(distDir, "toolchain-linux-amd64.tar.zst"), "12345");
    const files = {
      amd64: { file: "toolchain-linux-amd64.tar.zst", sha256, size: 5 },
      arm64: { file: "toolchain-linux-arm64.tar.zst", sha256, size: 5 },
    };
    const manifest = { node: "24.22.3", npm: "11.21.2", devcontainerCli: "0.89.0", files };
    await writeFile(path.join(distDir, "manifest.json"), JSON.stringify(manifest));
    const read = createToolchainReleaseReader(distDir);
    expect(await read("amd64")).toEqual({ arch: "amd64", sha256 });
    expect(await read("arm64")).toBeNull(); // listed, but its file is missing
  });

  it("says what to do with a manifest it cannot read", async () => {
    await writeFile(path.join(distDir, "manifest.json"), "{ not json");
    await expect(createToolchainReleaseReader(distDir)("amd64")).rejects.toThrow(
      /is not a toolchain manifest: run `npm run build` again/,
    );
  });
});
