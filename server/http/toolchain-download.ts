/* eslint-disable security/detect-non-literal-fs-filename -- the archive comes from the toolchain folder's manifest; the request only picks an architecture from a fixed list */
import { createReadStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import {
  findToolchainArchive,
  toolchainArchitectures,
  type ToolchainArch,
  type ToolchainArchive,
} from "../worker/toolchain-release.ts";

// GET /agent/toolchain?arch=amd64|arm64: the workspace toolchain archive (Node, npm, the
// devcontainer CLI; docs/adr/0011) a VM's toolchain unit downloads after the agent started.
// It is zstd-compressed once at build time and served as it is (application/zstd, no
// Content-Encoding: the VM wants these very bytes, whose SHA-256 the user data carries), with
// Range and If-Range so `curl -C -` resumes, and the SHA-256 as its strong ETag.

type Handler = (req: IncomingMessage, res: ServerResponse, log: Logger) => Promise<void>;

export function createToolchainDownloadRoutes(options: {
  distDir: string;
}): Record<string, Handler> {
  return {
    "/agent/toolchain": async (req, res) => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("allow", "GET, HEAD");
        throw new AppError("BAD_REQUEST", "Use GET or HEAD for /agent/toolchain.");
      }
      const arch = readArch(req);
      const archive = await findToolchainArchive(options.distDir, arch);
      if (!archive)
        throw new AppError(
          "SERVICE_UNAVAILABLE",
          `No ${arch} workspace toolchain has been built (or it is being rebuilt): run \`npm run build\`.`,
        );
      await sendArchive(req, res, archive, arch);
    },
  };
}

async function sendArchive(
  req: IncomingMessage,
  res: ServerResponse,
  archive: ToolchainArchive,
  arch: ToolchainArch,
): Promise<void> {
  const etag = `"${archive.sha256}"`;
  res.setHeader("etag", etag);
  res.setHeader("x-checksum-sha256", archive.sha256);
  res.setHeader("cache-control", "public, max-age=300");
  res.setHeader("accept-ranges", "bytes");
  res.setHeader("content-type", "application/zstd");
  res.setHeader("content-disposition", `attachment; filename=toolchain-${arch}.tar.zst`);
  if (matches(req.headers["if-none-match"], etag)) {
    res.statusCode = 304;
    return void res.end();
  }
  const range = readByteRange(req, archive.size, etag);
  if (range === "unsatisfiable") {
    res.statusCode = 416;
    res.setHeader("content-range", `bytes */${archive.size}`);
    return void res.end();
  }
  const { start, end } = range ?? { start: 0, end: archive.size - 1 };
  if (range) {
    res.statusCode = 206;
    res.setHeader("content-range", `bytes ${start}-${end}/${archive.size}`);
  }
  res.setHeader("content-length", end - start + 1);
  if (req.method === "HEAD") return void res.end();
  await pipeline(createReadStream(archive.path, { start, end }), res);
}

type ByteRange = { start: number; end: number };

// One `bytes=` range (RFC 9110 §14.2); several ranges, a malformed one or a stale If-Range
// get the whole archive (200), which the RFC allows and curl handles.
function readByteRange(
  req: IncomingMessage,
  size: number,
  etag: string,
): ByteRange | "unsatisfiable" | null {
  const header = req.headers.range;
  if (!header) return null;
  const ifRange = req.headers["if-range"];
  if (ifRange !== undefined && String(ifRange).trim() !== etag) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (!match[1] && !match[2])) return null;
  if (!match[1]) {
    const suffix = Number(match[2]);
    return suffix === 0 ? "unsatisfiable" : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
  if (match[2] && Number(match[2]) < start) return null;
  return start >= size ? "unsatisfiable" : { start, end };
}

function matches(header: string | undefined, etag: string): boolean {
  return (header ?? "")
    .split(",")
    .some((tag) => ["*", etag].includes(tag.trim().replace(/^W\//, "")));
}

function readArch(req: IncomingMessage): ToolchainArch {
  const arch = new URL(req.url ?? "/", "http://localhost").searchParams.get("arch") ?? "";
  if ((toolchainArchitectures as readonly string[]).includes(arch)) return arch as ToolchainArch;
  throw new AppError(
    "BAD_REQUEST",
    `Unknown arch "${arch.slice(0, 32)}": use one of ${toolchainArchitectures.join(", ")}, ` +
      "as in /agent/toolchain?arch=amd64.",
  );
}
