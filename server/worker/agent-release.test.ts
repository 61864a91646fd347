import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PermanentJobError } from "../jobs/runner.ts";
import { archOfServerType, createAgentReleaseReader } from "./agent-release.ts";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("the agent release reader", () => {
  let distDir: string;
  const x64 = randomBytes(4096);
  const arm64 = randomBytes(4096);
  beforeAll(async () => {
    distDir = await mkdtemp(path.join(tmpdir(), "agent-release-"));
    await writeFile(path.join(distDir, "agent-linux-x64"), x64);
    await writeFile(path.join(distDir, "agent-linux-arm64"), arm64);
    // The download's zstd copies sit beside them; the user data never carries their hash.
    await writeFile(path.join(distDir, "agent-linux-x64.zst"), randomBytes(100));
    await writeFile(path.join(distDir, "agent-linux-arm64.zst"), randomBytes(100));
  });
  afterAll(async () => {
    if (distDir) await rm(distDir, { recursive: true, force: true });
  });

  it("gives each architecture the SHA-256 of its binary itself", async () => {
    const read = createAgentReleaseReader(distDir);
    expect(await read("amd64")).toEqual({ arch: "amd64", sha256: sha256(x64) });
    expect(await read("arm64")).toEqual({ arch: "arm64", sha256: sha256(arm64) });
  });

  it("notices a rebuilt binary", async () => {
    const read = createAgentReleaseReader(distDir);
    expect((await read("arm64")).sha256).toBe(sha256(arm64));
    const rebuilt = randomBytes(4096);
    const partial = path.join(distDir, "agent-linux-arm64.partial");
    await writeFile(partial, rebuilt);
    await rename(partial, path.join(distDir, "agent-linux-arm64"));
    expect((await read("arm64")).sha256).toBe(sha256(rebuilt));
  });

  it("says how to fix a binary that was not built", async () => {
    const read = createAgentReleaseReader(path.join(distDir, "nothing-here"));
    const failure = read("arm64");
    await expect(failure).rejects.toBeInstanceOf(PermanentJobError);
    await expect(failure).rejects.toThrow(/agent-linux-arm64 is missing\). Run `npm run build`/);
  });

  it("maps Hetzner's Arm (cax) server types to arm64, the others to amd64", () => {
    expect(["cax11", "cax21", "cax41"].map(archOfServerType)).toEqual(["arm64", "arm64", "arm64"]);
    expect(["cx22", "cpx31", "ccx13"].map(archOfServerType)).toEqual(["amd64", "amd64", "amd64"]);
  });
});
