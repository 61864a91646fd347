import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toProblemDetails } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { sendProblem } from "./problem.ts";
import { createToolchainDownloadRoutes } from "./toolchain-download.ts";

const run = promisify(execFile);
type Answer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

function request(url: string, options: http.RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("GET /agent/toolchain", () => {
  const archive = randomBytes(300_000);
  const sha256 = createHash("sha256").update(archive).digest("hex");
  let distDir: string;
  let server: http.Server;
  let base: string;
  const url = () => `${base}/agent/toolchain?arch=amd64`;

  beforeAll(async () => {
    distDir = await mkdtemp(path.join(tmpdir(), "toolchain-download-"));
    await writeFile(path.join(distDir, "toolchain-linux-x64.tar.zst"), archive);
    const manifest = {
      node: "24.22.3",
      npm: "11.21.2",
      devcontainerCli: "0.89.0",
      files: {
        amd64: { file: "toolchain-linux-x64.tar.zst", sha256, size: archive.length },
        // Listed, but its file is missing: a build in progress.
        arm64: { file: "toolchain-linux-arm64.tar.zst", sha256, size: archive.length },
      },
    };
    await writeFile(path.join(distDir, "manifest.json"), JSON.stringify(manifest));
    const routes = createToolchainDownloadRoutes({ distDir });
    const log = createLogger({ level: "silent", service: "test" });
    server = http.createServer(async (req, res) => {
      try {
        await routes["/agent/toolchain"]!(req, res, log);
      } catch (error) {
        sendProblem(res, toProblemDetails(error));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(distDir, { recursive: true, force: true });
  });

  it("serves the archive as it is, with its SHA-256 as the ETag", async () => {
    const answer = await request(url());
    expect(answer.status).toBe(200);
    expect(answer.body.equals(archive)).toBe(true);
    expect(answer.headers).toMatchObject({
      etag: `"${sha256}"`,
      "x-checksum-sha256": sha256,
      "accept-ranges": "bytes",
      "content-type": "application/zstd",
      "content-length": String(archive.length),
    });
    expect(answer.headers["content-encoding"]).toBeUndefined();
    const head = await request(url(), { method: "HEAD" });
    expect([head.status, head.body.length, head.headers["content-length"]]).toEqual([
      200,
      0,
      String(archive.length),
    ]);
  });

  it("answers ranges, suffix ranges and unsatisfiable ones", async () => {
    const middle = await request(url(), { headers: { range: "bytes=1000-1999" } });
    expect(middle.status).toBe(206);
    expect(middle.headers["content-range"]).toBe(`bytes 1000-1999/${archive.length}`);
    expect(middle.body.equals(archive.subarray(1000, 2000))).toBe(true);
    const tail = await request(url(), { headers: { range: "bytes=-500" } });
    expect(tail.body.equals(archive.subarray(-500))).toBe(true);
    const open = await request(url(), { headers: { range: "bytes=299000-" } });
    expect(open.body.equals(archive.subarray(299_000))).toBe(true);
    const beyond = await request(url(), { headers: { range: `bytes=${archive.length}-` } });
    expect([beyond.status, beyond.headers["content-range"]]).toEqual([
      416,
      `bytes */${archive.length}`,
    ]);
  });

  it("sends the whole archive for a stale If-Range, and 304 for a current ETag", async () => {
    const stale = await request(url(), {
      headers: { range: "bytes=0-9", "if-range": `"${"0".repeat(64)}"` },
    });
    expect([stale.status, stale.body.length]).toEqual([200, archive.length]);
    const current = await request(url(), {
      headers: { range: "bytes=0-9", "if-range": `"${sha256}"` },
    });
    expect(current.status).toBe(206);
    const cached = await request(url(), { headers: { "if-none-match": `"${sha256}"` } });
    expect([cached.status, cached.body.length]).toEqual([304, 0]);
  });

  it("lets curl -C - resume a cut download to the exact archive", async () => {
    const folder = await mkdtemp(path.join(tmpdir(), "toolchain-resume-"));
    const file = path.join(folder, "toolchain.tar.zst");
    await writeFile(file, archive.subarray(0, 123_457));
    await run("curl", ["--fail", "--silent", "--show-error", "-C", "-", "-o", file, url()]);
    expect(
      createHash("sha256")
        .update(await readFile(file))
        .digest("hex"),
    ).toBe(sha256);
    await rm(folder, { recursive: true, force: true });
  });

  it("refuses an unknown arch and says when an archive is not built", async () => {
    const unknown = await request(`${base}/agent/toolchain?arch=mips`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.toString()).toContain("use one of amd64, arm64");
    const missing = await request(`${base}/agent/toolchain?arch=arm64`);
    expect(missing.status).toBe(503);
    expect(missing.body.toString()).toContain("run `npm run build`");
    const post = await request(url(), { method: "POST" });
    expect([post.status, post.headers.allow]).toEqual([400, "GET, HEAD"]);
  });
});
