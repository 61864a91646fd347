import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { upsertGitHubUser } from "../services/users.ts";
import { createCallerFactory } from "../trpc/init.ts";
import { appRouter } from "../trpc/root.ts";

let nextGitHubId = 1_000;

/** A signed-up user (as if through GitHub) with a GitHub token of `gho_test_<login>`. */
export async function createTestUser(
  context: AppLoadContextValue,
  login: string,
): Promise<AuthenticatedUser> {
  const user = await upsertGitHubUser(context.db, context.keyring, {
    profile: { id: nextGitHubId++, login, name: null, email: null, avatarUrl: null },
    accessToken: `gho_test_${login}`,
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
