/* eslint-disable security/detect-non-literal-fs-filename -- files come from AGENT_DIST_DIR and its manifest; the request only picks an architecture from a fixed list */
import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { z } from "zod";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { installRoot } from "../process/version.ts";
import { sendFileResponse } from "./file-response.ts";
import { sendJson } from "./json.ts";

// The workspace agent binaries that `npm run build` writes to dist/agent (SPEC §9, ADR 0009).
// A booting VM downloads one with `curl -C -` and checks its SHA-256, so the endpoint serves
// the zstd copy made at build time to a client that accepts zstd (the body is then those very
// bytes, `Content-Encoding: zstd`), the binary itself otherwise, each with its own strong
// ETag and byte ranges of its own bytes (RFC 9110 §14: a range applies to the selected
// representation), so an interrupted download resumes. Nothing is compressed per request.

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

const fileSchema = z.object({
  file: z.string().regex(/^[\w.-]+$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});
const manifestSchema = z.object({
  version: z.string(),
  files: z.record(
    z.string(),
    fileSchema.extend({ encodings: z.object({ zstd: fileSchema.optional() }).optional() }),
  ),
});
type Manifest = z.output<typeof manifestSchema>;
type ManifestFile = z.output<typeof fileSchema>;

/** One way to send the binary: its own bytes, or its zstd copy. */
type Representation = { path: string; size: number; etag: string; encoding: "zstd" | null };
/** The binary's SHA-256 (what the VM checks after decoding) and its representations. */
type Release = { sha256: string; identity: Representation; zstd: Representation | null };

export function createAgentDownloadRoutes(options: AgentDownloadOptions): Record<string, Handler> {
  const readManifest = createManifestReader(path.join(options.distDir, "manifest.json"));
  return {
    "/agent/download": readOnly(async (req, res) => {
      const arch = readArch(req);
      const release = await findRelease(options, await readManifest(), arch);
      const zstd = release.zstd && acceptsZstd(req.headers["accept-encoding"]);
      await sendRepresentation(req, res, release, zstd ? release.zstd! : release.identity);
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

async function findRelease(
  options: AgentDownloadOptions,
  manifest: Manifest | null,
  arch: Arch,
): Promise<Release> {
  if (!manifest) throw unavailable("No agent binary has been built: run `npm run build`.");
  if (manifest.version !== options.version)
    throw unavailable(
      `The agent binaries are version ${manifest.version} but the control plane is ` +
        `${options.version}: run \`npm run build\`.`,
    );
  const entry = manifest.files[targets[arch]];
  if (!entry) throw unavailable(`No ${arch} agent binary has been built: run \`npm run build\`.`);
  const identity = await findRepresentation(options.distDir, entry, null);
  if (!identity)
    throw unavailable(
      `The ${arch} agent binary is missing or being rebuilt: run \`npm run build\`.`,
    );
  // A zstd copy that is missing or being rewritten leaves the binary itself to serve.
  const zstd = entry.encodings?.zstd
    ? await findRepresentation(options.distDir, entry.encodings.zstd, "zstd")
    : null;
  return { sha256: entry.sha256, identity, zstd };
}

async function findRepresentation(
  distDir: string,
  entry: ManifestFile,
  encoding: Representation["encoding"],
): Promise<Representation | null> {
  const file = path.join(distDir, entry.file);
  const size = await stat(file).then(
    (stats) => stats.size,
    () => null,
  );
  // Each representation's own SHA-256 is its strong validator: If-Range then never splices
  // bytes of two different files, even two zstd copies of the same binary.
  return size === entry.size ? { path: file, size, etag: `"${entry.sha256}"`, encoding } : null;
}

function sendRepresentation(
  req: IncomingMessage,
  res: ServerResponse,
  release: Release,
  representation: Representation,
): Promise<void> {
  return sendFileResponse(req, res, representation, {
    // Always the binary's own checksum, which the VM checks after decoding.
    "x-checksum-sha256": release.sha256,
    "cache-control": "public, max-age=300",
    vary: "accept-encoding",
    "content-type": "application/octet-stream",
    "content-disposition": "attachment; filename=cloud-ai-workspaces-agent",
    ...(representation.encoding && { "content-encoding": representation.encoding }),
  });
}

/**
 * Whether to send zstd (RFC 9110 §12.5.3). zstd's weight is its own entry's, else `*`'s,
 * else 0. identity is acceptable unless refused; listed (or through `*`) it has that
 * weight, unlisted it comes after any listed coding (as in the negotiator package). So
 * "zstd" and "zstd;q=0.5" get zstd, "zstd;q=0", "gzip" and "identity, zstd;q=0.5" do not.
 * No header means a client that did not say it decodes anything: identity.
 */
export function acceptsZstd(header: string | undefined): boolean {
  if (header === undefined) return false;
  const weights = parseAcceptEncoding(header);
  const star = weights.get("*");
  const zstd = weights.get("zstd") ?? star ?? 0;
  const identity = weights.get("identity") ?? star;
  return zstd > 0 && (identity === undefined || zstd >= identity);
}

// coding *( OWS ";" OWS parameter ); the weight is `q` (RFC 9110 §12.4.2: 0 to 1, three
// decimals at most). An element with a malformed weight counts as absent, so it can neither
// grant nor refuse a coding; the first element for a coding wins.
function parseAcceptEncoding(header: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const element of header.split(",")) {
    const [coding = "", ...parameters] = element.split(";").map((part) => part.trim());
    if (!/^[\w!#$%&'*+.^`|~-]+$/.test(coding)) continue;
    const q = parameters.find((parameter) => /^q\s*=/i.test(parameter));
    const weight = q === undefined ? "1" : q.replace(/^q\s*=\s*/i, "");
    if (!/^[01]$|^[01]\.\d{0,3}$/.test(weight) || Number(weight) > 1) continue;
    if (!weights.has(coding.toLowerCase())) weights.set(coding.toLowerCase(), Number(weight));
  }
  return weights;
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
