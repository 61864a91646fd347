import type { IncomingMessage, ServerResponse } from "node:http";
import type { Database } from "../../db/client.ts";
import { bootProgressRequestSchema } from "../../protocol/boot-progress.ts";
import { authenticateBootReport, recordBootProgress } from "../services/boot-reports.ts";
import { readJsonBody, sendJson } from "./json.ts";

// POST /api/agent/boot-progress: a step of the server's boot (protocol/boot-progress.ts).
export function createBootProgressRoute(
  db: Database,
  bearerTokenOf: (req: IncomingMessage) => string,
) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const workspace = await authenticateBootReport(db, bearerTokenOf(req));
    const report = await readJsonBody(req, bootProgressRequestSchema);
    sendJson(res, 200, await recordBootProgress(db, workspace, report));
  };
}
