import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import {
  terminalGrantHeader,
  terminalStartPath,
  terminalStatusPath,
} from "../../protocol/terminal-status.ts";
import { AppError, describeZodError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { workspaceHostnameOf } from "../services/agent-certificates.ts";
import { readTerminalStatus, startFromTerminal } from "../services/terminal-status.ts";
import { sendJson } from "./json.ts";
import type { AppLoadContextValue } from "./load-context.ts";

// The two calls an agent's terminal page makes to the control plane (ADR 0022), cross-origin
// with CORS for exactly that workspace's agent origin. They take no cookie: the page proves
// itself with its terminal grant's id in a header, which also makes every call a preflighted
// one that no other site can send. Before Remix and its cookie-based origin rule, like /mcp.

type Handler = (req: IncomingMessage, res: ServerResponse, log: Logger) => Promise<void>;
type Context = Pick<AppLoadContextValue, "db" | "env">;

const workspaceIdSchema = z.uuid({ error: "expected ?workspace=<the workspace's id>" });
const grantIdSchema = z.uuid({
  error: `expected the terminal grant's id in the ${terminalGrantHeader} header`,
});

export function createTerminalStatusRoutes(context: Context): Record<string, Handler> {
  const { db, env } = context;
  return {
    [terminalStatusPath]: corsRoute(context, "GET", async (req, res, workspaceId) => {
      sendJson(res, 200, await readTerminalStatus(db, workspaceId, grantIdOf(req)));
    }),
    [terminalStartPath]: corsRoute(context, "POST", async (req, res, workspaceId) => {
      const settings = { maxAttempts: env.JOB_MAX_ATTEMPTS };
      sendJson(res, 200, await startFromTerminal(db, workspaceId, grantIdOf(req), settings));
    }),
  };
}

function corsRoute(
  context: Context,
  method: "GET" | "POST",
  handle: (req: IncomingMessage, res: ServerResponse, workspaceId: string) => Promise<void>,
): Handler {
  return async (req, res) => {
    const parsed = workspaceIdSchema.safeParse(
      new URL(req.url ?? "/", "http://control-plane.invalid").searchParams.get("workspace"),
    );
    if (!parsed.success) throw new AppError("BAD_REQUEST", describeZodError(parsed.error));
    const workspaceId = parsed.data;
    const origin = req.headers.origin;
    if (!origin || !isAgentOrigin(context.env, workspaceId, origin))
      throw new AppError(
        "FORBIDDEN",
        "Only this workspace's own terminal page may ask this; open the terminal from the control plane.",
      );
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("vary", "Origin");
    if (req.method === "OPTIONS") {
      res.setHeader("access-control-allow-methods", method);
      res.setHeader("access-control-allow-headers", terminalGrantHeader);
      res.setHeader("access-control-max-age", "600");
      res.writeHead(204).end();
      return;
    }
    if (req.method !== method) {
      res.setHeader("allow", `${method}, OPTIONS`);
      throw new AppError("BAD_REQUEST", `Use ${method} for ${new URL(req.url!, origin).pathname}.`);
    }
    await handle(req, res, workspaceId);
  };
}

function grantIdOf(req: IncomingMessage): string {
  const parsed = grantIdSchema.safeParse(req.headers[terminalGrantHeader]);
  if (!parsed.success) throw new AppError("UNAUTHORIZED", describeZodError(parsed.error));
  return parsed.data;
}

/**
 * The workspace's agent origin: `https://ws-{id}.BASE_DOMAIN` behind Cloudflare, or
 * `http://ws-{id}.localhost:<any port>` in the one-machine mode, where each start of the agent
 * may get another port and the page of the one before must still be answered.
 */
export function isAgentOrigin(
  env: Pick<Context["env"], "DNS_PROVIDER" | "BASE_DOMAIN">,
  workspaceId: string,
  origin: string,
): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin || url.hostname !== workspaceHostnameOf(env, workspaceId)) return false;
  return env.DNS_PROVIDER === "local"
    ? url.protocol === "http:"
    : url.protocol === "https:" && url.port === "";
}
