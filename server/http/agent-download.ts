/* eslint-disable security/detect-non-literal-fs-filename -- files come from AGENT_DIST_DIR and its manifest; the request only picks an architecture from a fixed list */
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { z } from "zod";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { installRoot } from "../process/version.ts";
import { sendJson } from "./json.ts";

// The workspace agent binary that `npm run build` writes to dist/agent (SPEC §9). cloud-init
// downloads it with retries and checks its SHA-256, so resuming (Range), revalidating (ETag)
// and a smaller transfer (gzip) all help a VM that is waiting to boot.

type Handler = (req: IncomingMessage, res: ServerResponse, log: Logger) => Promise<void>;

export type AgentDownloadOptions = {
  /** The folder with manifest.json and the binaries it lists. */
  distDir: string;
  /** The control plane's version: binaries of any other version are not served. */
  version: string;
};

export const defaultAgentDistDir = path.join(installRoot, "dist", "agent");

// cloud-init names architectures the Debian way; the build names binaries the Node way.
const targets = { amd64: "linux-x64", arm64: "linux-arm64" } as const;
type Arch = keyof typeof targets;
const architectures = Object.keys(targets) as Arch[];

const manifestSchema = z.object({
  version: z.string(),
  files: z.record(
    z.string(),
    z.object({
      file: z.string().regex(/^[\w.-]+$/),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      size: z.number().int().nonnegative(),
    }),
  ),
});
type Manifest = z.output<typeof manifestSchema>;
type Binary = { path: string; sha256: string; size: number };

export function createAgentDownloadRoutes(options: AgentDownloadOptions): Record<string, Handler> {
  const readManifest = createManifestReader(path.join(options.distDir, "manifest.json"));
  return {
    "/agent/download": readOnly(async (req, res) => {
      const arch = readArch(req);
      await sendBinary(req, res, await findBinary(options, await readManifest(), arch));
    }),
    "/agent/version": readOnly(async (_req, res) => {
      const manifest = await readManifest();
      const files = manifest?.version === options.version ? manifest.files : {};
      const built = architectures.filter((arch) => Object.hasOwn(files, targets[arch]));
      sendJson(res, 200, { version: options.version, architectures: built });
    }),
  };
}

// Parsed again only when the file changes: the build replaces it with a rename.
function createManifestReader(file: string): () => Promise<Manifest | null> {
  let cached: { identity: string; manifest: Manifest } | undefined;
  return async () => {
    const stats = await stat(file).catch(() => null);
    if (!stats) return null;
    const identity = `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
    if (cached?.identity === identity) return cached.manifest;
    const parsed = manifestSchema.safeParse(
      await readFile(file, "utf8").then(JSON.parse, () => null),
    );
    if (!parsed.success)
      throw unavailable("dist/agent/manifest.json is unreadable: run `npm run build`.");
    cached = { identity, manifest: parsed.data };
    return parsed.data;
  };
}

async function findBinary(
  options: AgentDownloadOptions,
  manifest: Manifest | null,
  arch: Arch,
): Promise<Binary> {
  if (!manifest) throw unavailable("No agent binary has been built: run `npm run build`.");
  if (manifest.version !== options.version)
    throw unavailable(
      `The agent binaries are version ${manifest.version} but the control plane is ` +
        `${options.version}: run \`npm run build\`.`,
    );
  const entry = manifest.files[targets[arch]];
  if (!entry)
    throw unavailable(
      `No ${arch} agent binary has been built: run \`npm run build\` on a ${targets[arch]} machine.`,
    );
  const file = path.join(options.distDir, entry.file);
  const size = await stat(file).then(
    (stats) => stats.size,
    () => null,
  );
  if (size !== entry.size)
    throw unavailable(
      `The ${arch} agent binary is missing or being rebuilt: run \`npm run build\`.`,
    );
  return { path: file, sha256: entry.sha256, size };
}

async function sendBinary(req: IncomingMessage, res: ServerResponse, binary: Binary) {
  // A compressed body is another representation, so it gets its own strong validator.
  const gzip = !req.headers.range && acceptsGzip(req.headers["accept-encoding"]);
  res.setHeader("etag", gzip ? `"${binary.sha256}-gzip"` : `"${binary.sha256}"`);
  res.setHeader("x-checksum-sha256", binary.sha256);
  res.setHeader("cache-control", "public, max-age=300");
  res.setHeader("vary", "accept-encoding");
  res.setHeader("accept-ranges", "bytes");
  res.setHeader("content-type", "application/octet-stream");
  res.setHeader("content-disposition", "attachment; filename=cloud-ai-workspaces-agent");
  if (matchesEntityTag(req.headers["if-none-match"], binary.sha256)) {
    res.statusCode = 304;
    return void res.end();
  }
  const range = readByteRange(req, binary);
  if (range === "unsatisfiable") {
    res.statusCode = 416;
    res.setHeader("content-range", `bytes */${binary.size}`);
    return void res.end();
  }
  if (range) {
    res.statusCode = 206;
    res.setHeader("content-range", `bytes ${range.start}-${range.end}/${binary.size}`);
    res.setHeader("content-length", range.end - range.start + 1);
    return sendBody(req, res, binary.path, { range });
  }
  if (gzip) {
    res.setHeader("content-encoding", "gzip");
    return sendBody(req, res, binary.path, { gzip: true });
  }
  res.setHeader("content-length", binary.size);
  return sendBody(req, res, binary.path, {});
}

async function sendBody(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  options: { range?: ByteRange; gzip?: boolean },
): Promise<void> {
  if (req.method === "HEAD") return void res.end();
  const source = createReadStream(file, options.range);
  // Level 4 gets close to the default level's size (36 vs 35 MB for a 99 MB agent) for
  // about half the CPU time, which every download pays.
  if (options.gzip) await pipeline(source, createGzip({ level: 4 }), res);
  else await pipeline(source, res);
}

type ByteRange = { start: number; end: number };

// One `bytes=` range (RFC 9110 §14); anything else, or a stale If-Range, gets the whole file.
function readByteRange(req: IncomingMessage, binary: Binary): ByteRange | "unsatisfiable" | null {
  const header = req.headers.range;
  if (!header) return null;
  const ifRange = req.headers["if-range"];
  if (ifRange !== undefined && ifRange !== `"${binary.sha256}"`) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (!match[1] && !match[2])) return null;
  const last = binary.size - 1;
  if (!match[1]) {
    const suffix = Number(match[2]);
    return suffix === 0 || binary.size === 0
      ? "unsatisfiable"
      : { start: Math.max(0, binary.size - suffix), end: last };
  }
  const start = Number(match[1]);
  const end = match[2] ? Number(match[2]) : Infinity;
  if (end < start) return null;
  return start > last ? "unsatisfiable" : { start, end: Math.min(end, last) };
}

function matchesEntityTag(header: string | undefined, sha256: string): boolean {
  const tags = new Set(["*", `"${sha256}"`, `"${sha256}-gzip"`]);
  return (header ?? "").split(",").some((tag) => tags.has(tag.trim().replace(/^W\//, "")));
}

function acceptsGzip(header: string | undefined): boolean {
  return (header ?? "").split(",").some((part) => {
    const [coding, ...params] = part.split(";").map((piece) => piece.trim().toLowerCase());
    const quality = params.find((param) => param.startsWith("q="));
    return coding === "gzip" && (quality === undefined || Number(quality.slice(2)) > 0);
  });
}

function readArch(req: IncomingMessage): Arch {
  const arch = new URL(req.url ?? "/", "http://localhost").searchParams.get("arch") ?? "";
  if (Object.hasOwn(targets, arch)) return arch as Arch;
  throw new AppError(
    "BAD_REQUEST",
    `Unknown arch "${arch.slice(0, 32)}": use one of ${architectures.join(", ")}, ` +
      "as in /agent/download?arch=amd64.",
  );
}

function readOnly(handler: Handler): Handler {
  return async (req, res, log) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      throw new AppError("BAD_REQUEST", `Use GET or HEAD for ${req.url?.split("?")[0]}.`);
    }
    await handler(req, res, log);
  };
}

function unavailable(message: string): AppError {
  return new AppError("SERVICE_UNAVAILABLE", message);
}
