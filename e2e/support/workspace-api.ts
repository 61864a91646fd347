import type { Browser } from "playwright-core";
import { SettingsPage } from "../pages/settings-page.ts";
import { SignInPage } from "../pages/sign-in-page.ts";
import { createKeyring, type Keyring } from "../../server/crypto/envelope.ts";
import { parseEnv } from "../../server/env.ts";
import { createClient, type Client } from "../../sdk/index.ts";
import { dataOf, signInOverHttp } from "../../server/testing/test-sign-in.ts";
import type { RunningApp } from "./app.ts";

export type WorkspaceApi = Client;

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
  const api = createClient({ baseUrl: app.baseUrl, token });
  const { user } = await api.auth.me.query();
  const keyring = await createKeyring(
    parseEnv({ ENCRYPTION_KEYS: app.encryptionKeys }).ENCRYPTION_KEYS!,
  );
  return { api, keyring, userId: user.id };
}

/**
 * As `signUpWithApiToken`, without a browser: the same redirects followed by fetch (sign in at
 * the app's GitHub stand-in, then `tokens.create` with the session cookie from our origin).
 */
export async function signUpOverHttp(baseUrl: string, login: string): Promise<WorkspaceApi> {
  const cookie = await signInOverHttp(baseUrl, login);
  const created = await fetch(`${baseUrl}/api/trpc/tokens.create`, {
    method: "POST",
    headers: { cookie, origin: new URL(baseUrl).origin, "content-type": "application/json" },
    body: JSON.stringify({ json: { name: "e2e" } }),
  });
  const { token } = dataOf<{ token: string }>(await created.json());
  return createClient({ baseUrl, token });
}
