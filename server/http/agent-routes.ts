import type { IncomingMessage, ServerResponse } from "node:http";
import {
  agentCertificateRequestSchema,
  bootstrapRequestSchema,
  gitCredentialRequestSchema,
  heartbeatRequestSchema,
  type HeartbeatResponse,
} from "../../protocol/agent-protocol.ts";
import {
  agentIdleRequestSchema,
  sessionReportSchema,
  type AgentSecretsResponse,
} from "../../protocol/agent-sessions.ts";
import { readWorkspaceSecrets } from "../services/secrets.ts";
import { recordSessionReport } from "../services/workspace-sessions.ts";
import { createCloudflareZone } from "../dns/cloudflare-zone.ts";
import { AppError, describeZodError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import {
  authenticateAgent,
  markAgentReady,
  readGitCredential,
  recordHeartbeat,
  redeemBootstrapToken,
  reportAgentIdle,
} from "../services/agents.ts";
import {
  createCertificateBudget,
  issueAgentCertificate,
  workspaceHostnameOf,
  type AgentCertificateDependencies,
} from "../services/agent-certificates.ts";
import { createBootProgressRoute } from "./boot-progress-route.ts";
import type { AppLoadContextValue } from "./load-context.ts";
import { readJsonBody, sendJson } from "./json.ts";

// The REST endpoints a workspace agent calls (SPEC §9). Errors become problem+json in the
// app server; every endpoint but bootstrap needs the agent's own bearer token.

type Handler = (req: IncomingMessage, res: ServerResponse, log: Logger) => Promise<void>;
type Context = Pick<
  AppLoadContextValue,
  "db" | "keyring" | "env" | "version" | "github" | "observeOutboundRequest"
>;

export function createAgentRoutes(context: Context): Record<string, Handler> {
  const { db, keyring, env, version, github } = context;
  const settings = { maxAttempts: env.JOB_MAX_ATTEMPTS };
  const agentOf = (req: IncomingMessage) => authenticateAgent(db, bearerTokenOf(req));
  const certificates = certificateDependencies(context);
  return {
    "/api/agent/bootstrap": post(async (req, res) => {
      const body = await readJsonBody(req, bootstrapRequestSchema);
      const urls = {
        githubUrl: env.GITHUB_URL,
        publicUrl: env.PUBLIC_URL,
        hostnameOf: (id: string) => workspaceHostnameOf(env, id),
      };
      sendJson(res, 200, await redeemBootstrapToken(db, body, urls, version));
    }),
    "/api/agent/heartbeat": post(async (req, res) => {
      const workspace = await agentOf(req);
      const body = await readJsonBody(req, heartbeatRequestSchema);
      const { revokedTerminalGrants } = await recordHeartbeat(db, workspace, {
        ...body,
        lastActivityAt: body.lastActivityAt ? new Date(body.lastActivityAt) : null,
      });
      const answer: HeartbeatResponse = { ok: true, revokedTerminalGrants };
      sendJson(res, 200, answer);
    }),
    "/api/agent/boot-progress": post(createBootProgressRoute(db, bearerTokenOf)),
    "/api/agent/ready": post(async (req, res) => {
      await markAgentReady(db, await agentOf(req));
      sendJson(res, 200, { ok: true });
    }),
    // SPEC §14: the live sessions and their AI-agent statuses, on change and with each heartbeat.
    "/api/agent/sessions": post(async (req, res) => {
      const workspace = await agentOf(req);
      await recordSessionReport(db, workspace, await readJsonBody(req, sessionReportSchema));
      sendJson(res, 200, { ok: true });
    }),
    // SPEC §14: the workspace's secrets, fetched on demand for each new shell; never logged.
    "/api/agent/secrets": method("GET", async (req, res) => {
      const workspace = await agentOf(req);
      const answer: AgentSecretsResponse = {
        secrets: await readWorkspaceSecrets(db, keyring, workspace),
      };
      res.setHeader("cache-control", "no-store");
      sendJson(res, 200, answer);
    }),
    "/api/agent/idle": post(async (req, res) => {
      const agent = await agentOf(req);
      // An empty body is an idle stop without a reason (the timeout's own words are used).
      const body = await readJsonBody(req, agentIdleRequestSchema.nullable());
      const workspace = await reportAgentIdle(db, agent, settings, body?.reason ?? null);
      sendJson(res, 200, { state: workspace.state });
    }),
    // TLS to the agent (ADR 0010): a certificate for the workspace's own host name.
    "/api/agent/certificate": post(async (req, res, log) => {
      const workspace = await agentOf(req);
      const { csr } = await readJsonBody(req, agentCertificateRequestSchema);
      sendJson(
        res,
        200,
        await issueAgentCertificate({ ...certificates, logger: log }, workspace, csr),
      );
    }),
    // ?protocol=&host=&path= : what git asked its helper for (none of it is secret).
    "/api/agent/git-credential": method("GET", async (req, res, log) => {
      const workspace = await agentOf(req);
      const query = new URL(req.url ?? "/", "http://localhost").searchParams;
      const asked = gitCredentialRequestSchema.safeParse(Object.fromEntries(query));
      if (!asked.success) throw new AppError("BAD_REQUEST", describeZodError(asked.error));
      sendJson(res, 200, await readGitCredential(db, keyring, workspace, github, asked.data, log));
    }),
  };
}

const post = (handler: Handler) => method("POST", handler);

function certificateDependencies(context: Context): Omit<AgentCertificateDependencies, "logger"> {
  const { env } = context;
  const cloudflare =
    env.DNS_PROVIDER === "cloudflare" && env.CLOUDFLARE_API_TOKEN && env.CLOUDFLARE_ZONE_ID
      ? { apiToken: env.CLOUDFLARE_API_TOKEN, zoneId: env.CLOUDFLARE_ZONE_ID }
      : null;
  return {
    db: context.db,
    zone:
      cloudflare &&
      createCloudflareZone({
        ...cloudflare,
        apiUrl: env.CLOUDFLARE_API_URL,
        observe: context.observeOutboundRequest,
      }),
    hostnameOf: (id) => workspaceHostnameOf(env, id),
    days: env.AGENT_CERTIFICATE_DAYS,
    budget: createCertificateBudget(context.db),
  };
}

function method(expected: string, handler: Handler): Handler {
  return async (req, res, log) => {
    if (req.method !== expected) {
      res.setHeader("allow", expected);
      throw new AppError("BAD_REQUEST", `Use ${expected} for ${req.url?.split("?")[0]}.`);
    }
    await handler(req, res, log);
  };
}

function bearerTokenOf(req: IncomingMessage): string {
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
  if (!match)
    throw new AppError("UNAUTHORIZED", "Send the agent token as `Authorization: Bearer <token>`.");
  return match[1]!;
}
