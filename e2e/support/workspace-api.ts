import { createTRPCClient, httpLink } from "@trpc/client";
import type { Browser } from "playwright-core";
import superjson from "superjson";
import { SettingsPage } from "../pages/settings-page.ts";
import { SignInPage } from "../pages/sign-in-page.ts";
import { createKeyring, type Keyring } from "../../server/crypto/envelope.ts";
import { parseEnv } from "../../server/env.ts";
import type { AppRouter } from "../../server/trpc/root.ts";
import type { RunningApp } from "./app.ts";

export type WorkspaceApi = ReturnType<typeof createTRPCClient<AppRouter>>;

/**
 * A user who signed in through the GitHub stand-in in `browser` (so the control plane holds
 * a GitHub token the stand-in's git server accepts) and made an API token on the settings
 * page; with the typed client that uses that token.
 */
export async function signUpWithApiToken(
  app: RunningApp,
  browser: Browser,
  login: string,
): Promise<{ api: WorkspaceApi; keyring: Keyring; userId: string }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await new SignInPage(page).signInAs(app.baseUrl, login);
  const settings = new SettingsPage(page);
  await settings.open(app.baseUrl);
  const token = await settings.createToken("e2e");
  await context.close();
  const api = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${app.baseUrl}/api/trpc`,
        transformer: superjson,
        headers: { authorization: `Bearer ${token}` },
      }),
    ],
  });
  const { user } = await api.auth.me.query();
  const keyring = await createKeyring(
    parseEnv({ ENCRYPTION_KEYS: app.encryptionKeys }).ENCRYPTION_KEYS!,
  );
  return { api, keyring, userId: user.id };
}

/** Polls until the workspace is in `state`, failing with its reason if it lands in error. */
export async function waitForWorkspaceState(
  api: WorkspaceApi,
  id: string,
  state: string,
  timeoutMs = 90_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const workspace = await api.workspaces.get.query({ id }).catch((error: Error) => {
      // A deleted workspace is no longer listed: that is the end state asked for.
      if (state === "deleted" && error.message.startsWith("No workspace of yours")) return null;
      throw error;
    });
    if (!workspace) return null;
    if (workspace.state === state) return workspace;
    if (workspace.state === "error") throw new Error(`workspace failed: ${workspace.stateReason}`);
    if (Date.now() > deadline) throw new Error(`workspace still ${workspace.state}, not ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
