import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toProblemDetails } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { acceptsZstd, createAgentDownloadRoutes } from "./agent-download.ts";
import { sendProblem } from "./problem.ts";

const run = promisify(execFile);
type Answer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

// node:http rather than fetch: the test must see the encoded bytes as they travel.
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

// The zstd command line tool, as the bootstrap script on the VM runs it.
async function zstd(args: string[], input?: Buffer): Promise<Buffer> {
  const child = run("zstd", args, { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 });
  if (input) child.child.stdin!.end(input);
  return (await child).stdout;
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

// A binary and its zstd copy as the build writes them, listed in a manifest of that shape.
async function writeRelease(distDir: string, target: string, binary: Buffer) {
  const file = `agent-${target}`;
  await writeFile(path.join(distDir, file), binary);
  await zstd(["-q", "-3", path.join(distDir, file), "-o", path.join(distDir, `${file}.zst`)]);
  const encoded = await readFile(path.join(distDir, `${file}.zst`));
  const zstdFile = { file: `${file}.zst`, sha256: sha256(encoded), size: encoded.length };
  const entry = {
    file,
    sha256: sha256(binary),
    size: binary.length,
    encodings: { zstd: zstdFile },
  };
  return { binary, encoded, entry };
}

describe("the agent download endpoint", () => {
  // Half repetitive, half random: big enough to stream, small enough to compress visibly.
  const binary = Buffer.concat([Buffer.alloc(200_000, "agent "), randomBytes(100_000)]);
  let release: Awaited<ReturnType<typeof writeRelease>>;
  let distDir: string;
  let server: Awaited<ReturnType<typeof startServer>>;
  let url: string;
  const identityTag = () => `"${release.entry.sha256}"`;
  const zstdTag = () => `"${release.entry.encodings.zstd.sha256}"`;
  const asZstd = (headers: http.OutgoingHttpHeaders = {}) => ({
    headers: { "accept-encoding": "gzip, br, zstd", ...headers },
  });
  beforeAll(async () => {
    distDir = await mkdtemp(path.join(tmpdir(), "agent-download-"));
    release = await writeRelease(distDir, "linux-x64", binary);
    const arm64 = await writeRelease(distDir, "linux-arm64", randomBytes(50_000));
    const manifest = {
      version: "1.2.3",
      files: { "linux-x64": release.entry, "linux-arm64": arm64.entry },
    };
    await writeFile(path.join(distDir, "manifest.json"), JSON.stringify(manifest));
    server = await startServer(distDir, "1.2.3");
    url = `${server.base}/agent/download?arch=amd64`;
  });
  afterAll(async () => {
    await server?.close();
    if (distDir) await rm(distDir, { recursive: true, force: true });
  });

  it("streams the binary itself to a client that asks for no coding", async () => {
    for (const headers of [{}, { "accept-encoding": "gzip, deflate, br" }]) {
      const answer = await request(url, { headers });
      expect(answer.status).toBe(200);
      expect(answer.body.equals(binary)).toBe(true);
      expect(answer.headers["content-encoding"]).toBeUndefined();
      expect(answer.headers).toMatchObject({
        etag: identityTag(),
        vary: "accept-encoding",
        "x-checksum-sha256": release.entry.sha256,
        "content-length": String(binary.length),
        "content-type": "application/octet-stream",
        "content-disposition": "attachment; filename=cloud-ai-workspaces-agent",
        "cache-control": "public, max-age=300",
      });
    }
  });

  it("sends the build's zstd copy, with its own ETag, to a client that accepts zstd", async () => {
    const answer = await request(url, asZstd());
    expect(answer.status).toBe(200);
    expect(answer.headers).toMatchObject({
      "content-encoding": "zstd",
      vary: "accept-encoding",
      etag: zstdTag(),
      "content-length": String(release.encoded.length),
      "x-checksum-sha256": release.entry.sha256,
    });
    expect(zstdTag()).not.toBe(identityTag());
    expect(answer.body.equals(release.encoded)).toBe(true);
    expect(sha256(await zstd(["-dc"], answer.body))).toBe(answer.headers["x-checksum-sha256"]);
  });

  it("weighs Accept-Encoding's q-values: q=0 refuses zstd, identity may outweigh it", async () => {
    const encodingFor = async (acceptEncoding: string) =>
      (await request(url, { headers: { "accept-encoding": acceptEncoding } })).headers[
        "content-encoding"
      ] ?? "identity";
    expect(await encodingFor("zstd;q=0")).toBe("identity");
    expect(await encodingFor("*, zstd;q=0")).toBe("identity");
    expect(await encodingFor("identity;q=1, zstd;q=0.5")).toBe("identity");
    expect(await encodingFor("ZSTD;Q=0.5")).toBe("zstd");
    expect(await encodingFor("*")).toBe("zstd");
  });

  it.each([
    ["zstd", true],
    ["gzip, zstd;q=0.1", true],
    ["identity;q=0.5, zstd", true],
    ["identity;q=0, *", true],
    ["*;q=0.3", true],
    ["zstd ; q=1.000", true],
    ["", false],
    ["gzip, br", false],
    ["zstd;q=0", false],
    ["zstd;q=0.000", false],
    ["*;q=0", false],
    ["identity, zstd;q=0.9", false],
    ["zstd;q=1.5", false],
    ["zstd;q=high", false],
    ["zstd;q=0.0001", false],
    ["zstd;q=0, zstd", false],
    ["zst", false],
  ])("Accept-Encoding %j allows zstd: %s", (header, expected) => {
    expect(acceptsZstd(header)).toBe(expected);
  });

  it("resumes the zstd copy by byte ranges of its own bytes (curl -C -)", async () => {
    const { encoded } = release;
    const first = await request(url, asZstd({ range: "bytes=0-999" }));
    expect(first.status).toBe(206);
    expect(first.headers["content-encoding"]).toBe("zstd");
    expect(first.headers["content-range"]).toBe(`bytes 0-999/${encoded.length}`);
    const rest = await request(url, asZstd({ range: "bytes=1000-", "if-range": zstdTag() }));
    expect(rest.status).toBe(206);
    expect(rest.headers["content-range"]).toBe(
      `bytes 1000-${encoded.length - 1}/${encoded.length}`,
    );
    const resumed = Buffer.concat([first.body, rest.body]);
    expect(resumed.equals(encoded)).toBe(true);
    expect(sha256(await zstd(["-dc"], resumed))).toBe(release.entry.sha256);
  });

  it("lets the bootstrap's curl resume the zstd copy, then zstd -dc gives the binary", async () => {
    // What a booting VM does after a broken connection: the saved part stays, `-C -` asks
    // for the rest of the same encoded bytes (no --compressed, so curl keeps them encoded).
    const folder = await mkdtemp(path.join(tmpdir(), "agent-download-curl-"));
    try {
      const saved = path.join(folder, "agent.zst");
      await writeFile(saved, release.encoded.subarray(0, 4096));
      const curl = ["--fail", "--silent", "--show-error", "--max-time", "30"];
      await run("curl", [...curl, "-H", "Accept-Encoding: zstd", "-C", "-", "-o", saved, url]);
      expect((await readFile(saved)).equals(release.encoded)).toBe(true);
      expect(sha256(await zstd(["-dc", saved]))).toBe(release.entry.sha256);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("sends the whole representation when If-Range names another one", async () => {
    // The identity file's tag never validates a range of the zstd copy, nor the other way.
    const mixed = await request(url, asZstd({ range: "bytes=10-", "if-range": identityTag() }));
    expect(mixed.status).toBe(200);
    expect(mixed.body.equals(release.encoded)).toBe(true);
    const back = await request(url, { headers: { range: "bytes=10-", "if-range": zstdTag() } });
    expect(back.status).toBe(200);
    expect(back.body.equals(binary)).toBe(true);
  });

  it("serves byte ranges of the binary itself", async () => {
    const middle = await request(url, { headers: { range: "bytes=1000-1999" } });
    expect(middle.status).toBe(206);
    expect(middle.headers["content-range"]).toBe(`bytes 1000-1999/${binary.length}`);
    expect(middle.body.equals(binary.subarray(1000, 2000))).toBe(true);
    const valid = { range: "bytes=250000-", "if-range": identityTag() };
    expect((await request(url, { headers: valid })).body.equals(binary.subarray(250_000))).toBe(
      true,
    );
    const tail = await request(url, { headers: { range: "bytes=-10" } });
    expect(tail.body.equals(binary.subarray(-10))).toBe(true);
  });

  it("answers 416 for a range past the end, and the whole file for a stale If-Range", async () => {
    const past = await request(url, asZstd({ range: `bytes=${release.encoded.length}-` }));
    expect(past.status).toBe(416);
    expect(past.headers["content-range"]).toBe(`bytes */${release.encoded.length}`);
    const stale = await request(url, { headers: { range: "bytes=0-9", "if-range": '"old"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(binary.length);
  });

  it("answers 304 only for the representation the client would get", async () => {
    const cached = await request(url, asZstd({ "if-none-match": `"other", ${zstdTag()}` }));
    expect(cached.status).toBe(304);
    expect(cached.body.length).toBe(0);
    expect(cached.headers).toMatchObject({ etag: zstdTag(), vary: "accept-encoding" });
    const identity = await request(url, { headers: { "if-none-match": `W/${identityTag()}` } });
    expect(identity.status).toBe(304);
    // Holding the binary itself says nothing about the zstd copy, and the other way round.
    const other = await request(url, asZstd({ "if-none-match": identityTag() }));
    expect(other.status).toBe(200);
    expect(other.body.equals(release.encoded)).toBe(true);
    const star = await request(url, { headers: { "if-none-match": "*" } });
    expect(star.status).toBe(304);
  });

  it("answers HEAD with the headers and no body", async () => {
    const identity = await request(url, { method: "HEAD" });
    expect(identity.status).toBe(200);
    expect(identity.headers["content-length"]).toBe(String(binary.length));
    expect(identity.body.length).toBe(0);
    const encoded = await request(url, { method: "HEAD", ...asZstd() });
    expect(encoded.headers["content-length"]).toBe(String(release.encoded.length));
    expect(encoded.headers["content-encoding"]).toBe("zstd");
  });

  it("serves the arm64 binary and its copy as well", async () => {
    const arm64 = `${server.base}/agent/download?arch=arm64`;
    const identity = await request(arm64);
    const encoded = await request(arm64, asZstd());
    expect(identity.status).toBe(200);
    expect(encoded.headers["content-encoding"]).toBe("zstd");
    expect((await zstd(["-dc"], encoded.body)).equals(identity.body)).toBe(true);
    expect(sha256(identity.body)).toBe(identity.headers["x-checksum-sha256"]);
  });

  it("falls back to the binary itself while the zstd copy is missing", async () => {
    const copy = path.join(distDir, "agent-linux-x64.zst");
    await rename(copy, `${copy}.away`);
    try {
      const answer = await request(url, asZstd());
      expect(answer.status).toBe(200);
      expect(answer.headers["content-encoding"]).toBeUndefined();
      expect(answer.body.equals(binary)).toBe(true);
    } finally {
      await rename(`${copy}.away`, copy);
    }
  });

  it("refuses an unknown architecture, naming the valid ones", async () => {
    const answer = await request(`${server.base}/agent/download?arch=sparc`);
    expect(answer.status).toBe(400);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(answer.body.toString()).detail).toContain("amd64, arm64");
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
      architectures: ["amd64", "arm64"],
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
      // Listed but not there (being rebuilt): 503 as well, never a wrong file.
      const manifest = {
        version: "1.2.3",
        files: { "linux-arm64": { file: "agent-linux-arm64", sha256: "0".repeat(64), size: 5 } },
      };
      await writeFile(path.join(distDir, "manifest.json"), JSON.stringify(manifest));
      const missing = await request(`${server.base}/agent/download?arch=arm64`);
      expect(missing.status).toBe(503);
      expect(JSON.parse(missing.body.toString()).detail).toContain("missing or being rebuilt");
    } finally {
      await server.close();
      await rm(distDir, { recursive: true, force: true });
    }
  });
});
