import type { IncomingMessage, ServerResponse } from "node:http";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { sendFileResponse } from "./file-response.ts";
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

function sendArchive(
  req: IncomingMessage,
  res: ServerResponse,
  archive: ToolchainArchive,
  arch: ToolchainArch,
): Promise<void> {
  return sendFileResponse(
    req,
    res,
    { path: archive.path, size: archive.size, etag: `"${archive.sha256}"` },
    {
      "x-checksum-sha256": archive.sha256,
      "cache-control": "public, max-age=300",
      "content-type": "application/zstd",
      "content-disposition": `attachment; filename=toolchain-${arch}.tar.zst`,
    },
  );
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
