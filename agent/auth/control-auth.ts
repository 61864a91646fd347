import { errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import { agentControlAudience, agentControlTokenSeconds } from "../../protocol/agent-sessions.ts";
import { JwksUnavailableError, type JwksCache } from "./jwks-cache.ts";

// The control plane's calls to the agent's session API (SPEC §14) carry a short-lived RS256 JWT
// signed with the same keys as terminal links, checked against the same JWKS cache: audience
// `workspace-agent-control`, issued by this workspace's control plane, for this workspace, at
// most 60 s long. Nothing of the token ever appears in an answer or a log line.

export class ControlAuthError extends Error {
  override name = "ControlAuthError";
  constructor(
    message: string,
    readonly status: 401 | 503 = 401,
  ) {
    super(message);
  }
}

export type ControlAuthOptions = {
  workspaceId: string;
  issuer: string;
  jwks: JwksCache;
  now?: () => number;
};

export type ControlCaller = { userId: string };

const clockToleranceSeconds = 30;
const maxTokenLength = 8 * 1024;
const claimsSchema = z.object({
  sub: z.string().min(1),
  workspace: z.string(),
  iat: z.number(),
  exp: z.number(),
});

/** Verifies `Authorization: Bearer <JWT>`; throws ControlAuthError saying what is wrong. */
export function createControlAuth(options: ControlAuthOptions) {
  const now = options.now ?? Date.now;
  const resolveKey: JWTVerifyGetKey = async (header) => {
    if (!header.kid) throw new ControlAuthError("The token does not name its signing key (kid).");
    const key = await options.jwks.findKey(header.kid).catch((error: unknown) => {
      if (error instanceof JwksUnavailableError)
        throw new ControlAuthError(`${error.message} Try again in a minute.`, 503);
      throw error;
    });
    if (!key)
      throw new ControlAuthError(
        "The token is signed with a key the control plane does not publish.",
      );
    return key;
  };
  return async function authenticate(authorization: string | undefined): Promise<ControlCaller> {
    const token = /^Bearer ([A-Za-z0-9._-]+)$/.exec(authorization ?? "")?.[1];
    if (!token || token.length > maxTokenLength)
      throw new ControlAuthError(
        "Send the control plane's session token as Authorization: Bearer <JWT>.",
      );
    let payload;
    try {
      ({ payload } = await jwtVerify(token, resolveKey, {
        algorithms: ["RS256"],
        issuer: options.issuer,
        audience: agentControlAudience,
        clockTolerance: clockToleranceSeconds,
        maxTokenAge: agentControlTokenSeconds + clockToleranceSeconds,
        requiredClaims: ["exp", "iat", "sub"],
        currentDate: new Date(now()),
      }));
    } catch (error) {
      throw explain(error);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw new ControlAuthError("The token lacks sub, workspace, iat or exp.");
    if (claims.data.workspace !== options.workspaceId)
      throw new ControlAuthError("The token is for another workspace.");
    if (claims.data.exp - claims.data.iat > agentControlTokenSeconds)
      throw new ControlAuthError(
        `The token lives longer than ${agentControlTokenSeconds} seconds; none should.`,
      );
    return { userId: claims.data.sub };
  };
}

function explain(error: unknown): ControlAuthError {
  if (error instanceof ControlAuthError) return error;
  if (error instanceof errors.JWTExpired) return new ControlAuthError("The token has expired.");
  if (error instanceof errors.JWTClaimValidationFailed)
    return new ControlAuthError(`The token's "${error.claim}" claim is not acceptable.`);
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new ControlAuthError("The token is not signed with RS256.");
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new ControlAuthError("The token's signature does not match.");
  return new ControlAuthError("The token is malformed.");
}
