import { z } from "zod";

// The contract between the control plane and the workspace agent (SPEC §9), shared by
// both sides and by nothing else of ours. Pure: types, schemas and constants, no I/O.
// The terminal WebSocket protocol is documented in docs/agent-protocol.md.

/** `aud` of terminal JWTs. */
export const terminalAudience = "workspace-terminal";
/** Longest life of a terminal JWT; the agent refuses longer ones. */
export const terminalTokenMaxSeconds = 60 * 60;
/** The agent's session cookie, set after a token exchange. */
export const terminalCookieName = "caw_terminal";
export const terminalCookieMaxAgeSeconds = 8 * 60 * 60;

export const heartbeatIntervalSeconds = 60;
/** WebSocket close code when the browser's terminal access ended (signed out, revoked). */
export const accessEndedCloseCode = 4001;
/**
 * Most terminal grants (redeemed links, each behind one cookie) an agent keeps and reports in
 * a heartbeat; past it the agent refuses new sign-ins rather than forget a used link.
 */
export const maxTerminalGrants = 500;
/** Open terminals are warned this long before the agent reports idle. */
export const idleWarningSeconds = 5 * 60;

// ── REST: agent → control plane ─────────────────────────────────────────────────────────

export const bootstrapRequestSchema = z.object({
  bootstrapToken: z.string().min(1),
  agentVersion: z.string().trim().min(1).max(64),
});
export type BootstrapRequest = z.infer<typeof bootstrapRequestSchema>;

export const bootstrapResponseSchema = z.object({
  agentToken: z.string().min(1),
  workspace: z.object({
    id: z.uuid(),
    repository: z.string(),
    branch: z.string(),
    idleTimeoutMinutes: z.number().int().positive(),
    /**
     * SPEC §14: hours an AI agent may report `working` with no terminal input before the
     * workspace is stopped anyway. Defaults for state an older agent saved.
     */
    maxWorkingHours: z.number().int().positive().default(8),
    /** Clone URL of the repository (the credential helper supplies the password). */
    cloneUrl: z.url(),
    /**
     * The workspace's own host name, `ws-{id}.{BASE_DOMAIN}` (`ws-{id}.localhost` in the
     * one-machine mode): the name its TLS certificate is for. Always sent; optional only so that
     * state an older agent saved (STATE_DIR/agent.json) still reads.
     */
    hostname: z.string().min(1).max(253).optional(),
  }),
  /** Where the agent verifies terminal JWTs. */
  jwksUrl: z.url(),
  /** `iss` of terminal JWTs. */
  issuer: z.string().min(1),
});
export type BootstrapResponse = z.infer<typeof bootstrapResponseSchema>;

export const heartbeatRequestSchema = z.object({
  agentVersion: z.string().trim().min(1).max(64),
  sessions: z.number().int().min(0),
  lastActivityAt: z.iso.datetime().nullable(),
  /** The grants (`jti` of redeemed terminal links) whose cookies the agent still honours. */
  terminalGrants: z.array(z.uuid()).max(maxTerminalGrants).default([]),
});
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;

export const heartbeatResponseSchema = z.object({
  ok: z.literal(true),
  /**
   * Those of the reported grants that ended (sign-out, revoked session or API token, deleted
   * account, expiry): the agent refuses their cookies and closes their sockets.
   */
  revokedTerminalGrants: z.array(z.uuid()),
});
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;

/** Longest certificate request the control plane reads (an ECDSA P-256 one is about 500 bytes). */
const maxCertificateRequestLength = 8 * 1024;

/**
 * `POST /api/agent/certificate`: a PKCS #10 request (PEM) for the workspace's own host name,
 * signed with an ECDSA P-256 key that never leaves the server.
 */
export const agentCertificateRequestSchema = z.object({
  csr: z
    .string()
    .max(maxCertificateRequestLength, {
      error: `expected a certificate request of at most ${maxCertificateRequestLength} characters`,
    })
    .regex(/^\s*-----BEGIN CERTIFICATE REQUEST-----/, {
      error: "expected a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)",
    }),
});

export const agentCertificateResponseSchema = z.object({
  /** The Cloudflare Origin CA certificate (PEM), trusted by Cloudflare's edge only. */
  certificate: z.string().min(1),
  expiresAt: z.iso.datetime(),
});
export type AgentCertificateResponse = z.infer<typeof agentCertificateResponseSchema>;

/**
 * What git asked its credential helper for (git-credential(1), with `useHttpPath`): the
 * control plane answers only for the workspace's own repository on GITHUB_URL. Sent as the
 * query of `GET /api/agent/git-credential`; none of it is secret.
 */
export const gitCredentialRequestSchema = z.object({
  protocol: z.enum(["http", "https"], { error: "expected http or https" }),
  host: z.string().min(1).max(255),
  path: z.string().min(1, { error: "expected the repository path git asked about" }).max(1024),
});
export type GitCredentialRequest = z.infer<typeof gitCredentialRequestSchema>;

export const gitCredentialSchema = z.object({
  protocol: z.string(),
  host: z.string(),
  username: z.string(),
  password: z.string(),
  /** When the password stops working (a GitHub App installation token); null: not known. */
  expiresAt: z.iso.datetime().nullable().default(null),
});
export type GitCredential = z.infer<typeof gitCredentialSchema>;

/**
 * `owner/name` of a repository path as git sends it (`owner/name.git`, maybe with slashes
 * around, or Git LFS's `owner/name.git/info/lfs`), lower-cased: GitHub compares owners and
 * names case-insensitively.
 */
export function repositoryOfGitPath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  // Git LFS asks for its endpoint, `owner/name.git/info/lfs[/…]`: the same repository.
  const lfs = trimmed.search(/\.git\/info\/lfs(\/|$)/i);
  return (lfs >= 0 ? trimmed.slice(0, lfs) : trimmed).replace(/\.git$/i, "").toLowerCase();
}

// ── Terminal JWT claims (RS256, signed by the control plane) ─────────────────────────────

export const terminalClaimsSchema = z.object({
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  sub: z.string().min(1),
  /** The terminal grant's id: the link works once, and the grant can be revoked. */
  jti: z.uuid(),
  workspace: z.uuid(),
  exp: z.number(),
  iat: z.number(),
  nbf: z.number().optional(),
});
export type TerminalClaims = z.infer<typeof terminalClaimsSchema>;

// ── Terminal WebSocket: binary frames are terminal bytes; text frames are these ─────────

export const clientMessageSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("resize"),
    cols: z.number().int().min(1).max(1000),
    rows: z.number().int().min(1).max(1000),
  }),
  z.object({ type: z.literal("ping"), at: z.number() }),
  z.object({ type: z.literal("pong"), at: z.number() }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

export type ServerMessage =
  /** First message on every socket: the session it is attached to. */
  | { type: "session"; id: string; cols: number; rows: number; replayedBytes: number }
  /** Sent only after every byte of output has been delivered. */
  | { type: "exit"; code: number; signal: number | null }
  | { type: "ping"; at: number }
  | { type: "pong"; at: number }
  /** E.g. the idle warning, 5 minutes before the agent stops the workspace. */
  | { type: "notice"; message: string }
  | { type: "error"; message: string };

/** Parses a text frame from the browser; null for anything that is not a known message. */
export function parseClientMessage(text: string): ClientMessage | null {
  try {
    const result = clientMessageSchema.safeParse(JSON.parse(text));
    return result.success ? result.data : null;
  } catch {
    return null;
  }
}
