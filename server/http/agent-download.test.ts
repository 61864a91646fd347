import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toProblemDetails } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { createAgentDownloadRoutes } from "./agent-download.ts";
import { sendProblem } from "./problem.ts";

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

// node:http rather than fetch: fetch would ask for and undo gzip on its own.
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

async function startServer(distDir: string, version: string) {
  const routes = createAgentDownloadRoutes({ distDir, version });
  const log = createLogger({ level: "silent", service: "test" });
  const server = http.createServer(async (req, res) => {
    const route = routes[new URL(req.url ?? "/", "http://localhost").pathname];
    try {
      if (!route) throw new Error("no route");
      await route(req, res, log);
    } catch (error) {
      sendProblem(res, toProblemDetails(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe("the agent download endpoint", () => {
  // Half repetitive, half random: big enough to stream, small enough to compress visibly.
  const binary = Buffer.concat([Buffer.alloc(200_000, "agent "), randomBytes(100_000)]);
  const sha256 = createHash("sha256").update(binary).digest("hex");
  let distDir: string;
  let server: Awaited<ReturnType<typeof startServer>>;
  let url: string;
  beforeAll(async () => {
    distDir = await mkdtemp(path.join(tmpdir(), "agent-download-"));
    await writeFile(path.join(distDir, "agent-linux-x64"), binary);
    const manifest = {
      version: "1.2.3",
      files: { "linux-x64": { file: "agent-linux-x64", sha256, size: binary.length } },
    };
    await writeFile(path.join(distDir, "manifest.json"), JSON.stringify(manifest));
    server = await startServer(distDir, "1.2.3");
    url = `${server.base}/agent/download?arch=amd64`;
  });
  afterAll(async () => {
    await server?.close();
    if (distDir) await rm(distDir, { recursive: true, force: true });
  });

  it("streams the binary with its checksum, validator and length", async () => {
    const answer = await request(url);
    expect(answer.status).toBe(200);
    expect(answer.body.equals(binary)).toBe(true);
    expect(answer.headers).toMatchObject({
      etag: `"${sha256}"`,
      "x-checksum-sha256": sha256,
      "content-length": String(binary.length),
      "content-type": "application/octet-stream",
      "content-disposition": "attachment; filename=cloud-ai-workspaces-agent",
      "cache-control": "public, max-age=300",
    });
    expect(createHash("sha256").update(answer.body).digest("hex")).toBe(
      answer.headers["x-checksum-sha256"],
    );
  });

  it("answers HEAD with the headers and no body", async () => {
    const answer = await request(url, { method: "HEAD" });
    expect(answer.status).toBe(200);
    expect(answer.headers["content-length"]).toBe(String(binary.length));
    expect(answer.body.length).toBe(0);
  });

  it("answers 304 when the client already has this binary", async () => {
    const answer = await request(url, { headers: { "if-none-match": `"other", "${sha256}"` } });
    expect(answer.status).toBe(304);
    expect(answer.body.length).toBe(0);
    expect(answer.headers.etag).toBe(`"${sha256}"`);
  });

  it("serves byte ranges so an interrupted download can resume", async () => {
    const middle = await request(url, { headers: { range: "bytes=1000-1999" } });
    expect(middle.status).toBe(206);
    expect(middle.headers["content-range"]).toBe(`bytes 1000-1999/${binary.length}`);
    expect(middle.body.equals(binary.subarray(1000, 2000))).toBe(true);
    const rest = await request(url, { headers: { range: "bytes=250000-" } });
    expect(rest.body.equals(binary.subarray(250_000))).toBe(true);
    const tail = await request(url, { headers: { range: "bytes=-10" } });
    expect(tail.body.equals(binary.subarray(-10))).toBe(true);
  });

  it("answers 416 for a range past the end, and the whole file for a stale If-Range", async () => {
    const past = await request(url, { headers: { range: `bytes=${binary.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers["content-range"]).toBe(`bytes */${binary.length}`);
    const stale = await request(url, { headers: { range: "bytes=0-9", "if-range": '"old"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(binary.length);
  });

  it("compresses with gzip when asked, without a length", async () => {
    const answer = await request(url, { headers: { "accept-encoding": "br;q=1, gzip" } });
    expect(answer.status).toBe(200);
    expect(answer.headers["content-encoding"]).toBe("gzip");
    expect(answer.headers["content-length"]).toBeUndefined();
    expect(answer.headers["x-checksum-sha256"]).toBe(sha256);
    expect(answer.body.length).toBeLessThan(binary.length);
    expect(gunzipSync(answer.body).equals(binary)).toBe(true);
    const refused = await request(url, { headers: { "accept-encoding": "gzip;q=0" } });
    expect(refused.headers["content-encoding"]).toBeUndefined();
  });

  it("refuses an unknown architecture, naming the valid ones", async () => {
    const answer = await request(`${server.base}/agent/download?arch=sparc`);
    expect(answer.status).toBe(400);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(answer.body.toString()).detail).toContain("amd64, arm64");
  });

  it("answers 503 with the fix when a binary was not built", async () => {
    const answer = await request(`${server.base}/agent/download?arch=arm64`);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body.toString()).detail).toContain("npm run build");
  });

  it("refuses other methods", async () => {
    const answer = await request(url, { method: "POST" });
    expect(answer.status).toBe(400);
    expect(answer.headers.allow).toBe("GET, HEAD");
  });

  it("reports the version and the architectures it can serve", async () => {
    const answer = await request(`${server.base}/agent/version`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toEqual({
      version: "1.2.3",
      architectures: ["amd64"],
    });
  });

  it("notices a rebuilt manifest and refuses binaries of another version", async () => {
    const manifest = { version: "1.2.2", files: {} };
    await writeFile(path.join(distDir, "manifest.json"), JSON.stringify(manifest));
    const refused = await request(url);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body.toString()).detail).toContain("1.2.2");
    const version = await request(`${server.base}/agent/version`);
    expect(JSON.parse(version.body.toString())).toEqual({ version: "1.2.3", architectures: [] });
  });
});

describe("the agent download endpoint without a build", () => {
  it("answers 503 telling to run npm run build", async () => {
    const distDir = await mkdtemp(path.join(tmpdir(), "agent-download-empty-"));
    const server = await startServer(distDir, "1.2.3");
    try {
      const answer = await request(`${server.base}/agent/download?arch=amd64`);
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body.toString()).detail).toContain("run `npm run build`");
      const version = await request(`${server.base}/agent/version`);
      expect(JSON.parse(version.body.toString())).toEqual({ version: "1.2.3", architectures: [] });
    } finally {
      await server.close();
      await rm(distDir, { recursive: true, force: true });
    }
  });
});
