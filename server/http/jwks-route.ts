import type { IncomingMessage, ServerResponse } from "node:http";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { readJwks } from "../services/signing-keys.ts";
import type { AppLoadContextValue } from "./load-context.ts";

// The public keys workspace agents check terminal JWTs against (SPEC §9). Agents cache the
// set for an hour and refetch on an unknown `kid`; five minutes here keeps proxies from
// serving a set much older than the database's.

type Handler = (req: IncomingMessage, res: ServerResponse, log: Logger) => Promise<void>;
type Context = Pick<AppLoadContextValue, "db">;

export function createJwksRoutes(context: Context): Record<string, Handler> {
  return {
    "/.well-known/jwks.json": async (req, res) => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("allow", "GET, HEAD");
        throw new AppError("BAD_REQUEST", "Use GET for /.well-known/jwks.json.");
      }
      const body = JSON.stringify(await readJwks(context.db));
      res.statusCode = 200;
      res.setHeader("content-type", "application/jwk-set+json");
      res.setHeader("cache-control", "public, max-age=300");
      res.setHeader("content-length", Buffer.byteLength(body));
      res.end(req.method === "HEAD" ? undefined : body);
    },
  };
}
