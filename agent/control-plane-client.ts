import { bootProgressRequestSchema, type BootProgressRequest } from "../protocol/boot-progress.ts";
import {
  agentSecretsResponseSchema,
  sessionReportSchema,
  type SessionReport,
} from "../protocol/agent-sessions.ts";
import {
  agentCertificateResponseSchema,
  bootstrapResponseSchema,
  gitCredentialSchema,
  heartbeatResponseSchema,
  type AgentCertificateResponse,
  type BootstrapResponse,
  type GitCredential,
  type GitCredentialRequest,
  type HeartbeatRequest,
  type HeartbeatResponse,
} from "../protocol/agent-protocol.ts";

// The agent's calls to the control plane (SPEC §9). A VM can boot before its network or the
// control plane is fully there, so every call is retried with backoff a few times.

export class ControlPlaneError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ControlPlaneError";
  }
}

export type ControlPlaneClient = ReturnType<typeof createControlPlaneClient>;

export function createControlPlaneClient(baseUrl: string, options: { attempts?: number } = {}) {
  let agentToken: string | null = null;
  const attempts = options.attempts ?? 5;

  async function call(method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${baseUrl}${path}`, {
          method,
          headers: {
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...(agentToken ? { authorization: `Bearer ${agentToken}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        if (response.ok) return await response.json();
        const problem = (await response.json().catch(() => ({}))) as { detail?: string };
        const error = new ControlPlaneError(
          response.status,
          `${method} ${path} answered ${response.status}: ${problem.detail ?? response.statusText}`,
        );
        // 4xx answers will not change by asking again.
        if (response.status < 500 || attempt >= attempts) throw error;
      } catch (error) {
        if (error instanceof ControlPlaneError && error.status < 500) throw error;
        if (attempt >= attempts) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** attempt, 10_000)));
    }
  }

  return {
    useAgentToken(token: string) {
      agentToken = token;
    },
    async bootstrap(bootstrapToken: string, agentVersion: string): Promise<BootstrapResponse> {
      const answer = await call("POST", "/api/agent/bootstrap", { bootstrapToken, agentVersion });
      const parsed = bootstrapResponseSchema.parse(answer);
      agentToken = parsed.agentToken;
      return parsed;
    },
    ready: () => call("POST", "/api/agent/ready", {}),
    heartbeat: async (body: HeartbeatRequest): Promise<HeartbeatResponse> =>
      heartbeatResponseSchema.parse(await call("POST", "/api/agent/heartbeat", body)),
    /** Asks the control plane to stop the workspace; `reason` e.g. "idle for 30 min". */
    idle: (reason?: string) => call("POST", "/api/agent/idle", reason ? { reason } : {}),
    /** SPEC §14: the live sessions and statuses (the whole set). */
    sessions: (report: SessionReport) =>
      call("POST", "/api/agent/sessions", sessionReportSchema.parse(report)),
    /** SPEC §14: the workspace's secrets by name, for a new shell's environment. */
    secrets: async (): Promise<Record<string, string>> =>
      agentSecretsResponseSchema.parse(await call("GET", "/api/agent/secrets")).secrets,
    /** A certificate for the workspace's host name, from a request (PEM) for it. */
    certificate: async (csr: string): Promise<AgentCertificateResponse> =>
      agentCertificateResponseSchema.parse(await call("POST", "/api/agent/certificate", { csr })),
    /** A step of the workspace's boot (the agent reports `devcontainer`); never retried long. */
    bootProgress: async (report: BootProgressRequest) =>
      call("POST", "/api/agent/boot-progress", bootProgressRequestSchema.parse(report)),
    gitCredential: async (request: GitCredentialRequest): Promise<GitCredential> =>
      gitCredentialSchema.parse(
        await call("GET", `/api/agent/git-credential?${new URLSearchParams(request)}`),
      ),
  };
}
