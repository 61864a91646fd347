import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { upsertGitHubUser } from "../services/users.ts";
import { createCallerFactory } from "../trpc/init.ts";
import { appRouter } from "../trpc/root.ts";
import { issueGitHubToken } from "./test-github.ts";

/** A user signed up through the context's GitHub (a stand-in) with a real token of theirs. */
export async function createTestUser(
  context: AppLoadContextValue,
  login: string,
): Promise<AuthenticatedUser> {
  const { accessToken, githubId } = await issueGitHubToken(context.github, login);
  const user = await upsertGitHubUser(context.db, context.keyring, {
    profile: { id: githubId, login, name: null, email: null, avatarUrl: null },
    accessToken,
    adminLogins: [],
  });
  const {
    githubTokenEncrypted: _token,
    githubId: _id,
    createdAt: _c,
    updatedAt: _u,
    ...rest
  } = user;
  return rest;
}

/** The tRPC API as `user` (or anonymous) would call it over HTTP, without the HTTP. */
export function callerFor(context: AppLoadContextValue, user: AuthenticatedUser | null) {
  return createCallerFactory(appRouter)({
    ...context,
    request: new Request("http://localhost/api/trpc"),
    auth: user
      ? { user, via: "session", sessionId: null, cookies: [] }
      : { user: null, via: null, sessionId: null, cookies: [] },
  });
}
