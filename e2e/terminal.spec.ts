import { generateKeyPair, SignJWT, exportSPKI, importJWK, type JWK } from "jose";
import { createHmac, randomUUID } from "node:crypto";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { terminalAudience } from "../protocol/agent-protocol.ts";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { readSigningKey, signTerminalToken } from "../server/services/signing-keys.ts";
import { TerminalPage } from "./pages/terminal-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";
import { waitForWorkspace } from "../sdk/index.ts";
import { signUpWithApiToken, type WorkspaceApi } from "./support/workspace-api.ts";

// The built agent binary, as the local provider runs it: a terminal in Chromium through a
// terminal.token URL, and every forged or altered token refused by the agent itself.

let app: RunningApp;
let browser: Browser;
let api: WorkspaceApi;
let signUp: Awaited<ReturnType<typeof signUpWithApiToken>>;
let workspaceId: string;
let agentOrigin: string; // http://127.0.0.1:<agent port>, for Node, which cannot resolve *.localhost

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchBrowser()]);
  signUp = await signUpWithApiToken(app, browser, "terminal-user");
  api = signUp.api;
  const created = await api.workspaces.create.mutate({
    name: "terminal",
    repository: `${sampleRepository.owner}/${sampleRepository.name}`,
    branch: "main",
  });
  workspaceId = created.id;
  const running = await waitForWorkspace(api, workspaceId, "running");
  agentOrigin = `http://127.0.0.1:${new URL(running!.agentUrl!).port}`;
});
afterAll(async () => {
  await api?.workspaces.delete.mutate({ id: workspaceId }).catch(() => {});
  if (api && workspaceId) await waitForWorkspace(api, workspaceId, "deleted").catch(() => {});
  await browser?.close();
  await app?.stop();
});

const enter = (token: string) =>
  fetch(`${agentOrigin}/?token=${encodeURIComponent(token)}`, { redirect: "manual" });

async function expectRefused(token: string) {
  const response = await enter(token);
  expect(response.status).toBe(401);
  expect(response.headers.getSetCookie()).toEqual([]);
  expect(await response.text()).not.toContain(token);
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("the terminal of a running workspace", () => {
  it("opens in the browser from terminal.token and runs git in the cloned repository", async () => {
    const { url } = await api.terminal.token.mutate({ workspaceId });
    expect(url).toMatch(new RegExp(`^http://ws-${workspaceId}\\.localhost:\\d+/\\?token=`));
    const page = await browser.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    const terminal = new TerminalPage(page);
    await terminal.open(url).catch(async (error: unknown) => {
      await page.screenshot({ path: await screenshotPath("terminal-failed"), fullPage: true });
      console.error(page.url(), await page.content());
      throw error;
    });
    // The token is gone from the address bar; the session's name took its place (a reload
    // re-attaches to it).
    const address = new URL(page.url());
    expect(address.searchParams.get("token")).toBeNull();
    expect(address.search).toMatch(/^\?session=shell-\d+$/);
    await terminal.run("git log -1 --format=%s");
    await terminal.waitForText(sampleRepository.commitSubject).catch(async (error: unknown) => {
      console.error("screen:", await page.locator(".xterm-rows").textContent());
      throw error;
    });
    await page.screenshot({ path: await screenshotPath("terminal"), fullPage: true });
    await page.close();
  });

  it("gives a session cookie for a valid token, and refuses a tampered one", async () => {
    const { url } = await api.terminal.token.mutate({ workspaceId });
    const response = await enter(new URL(url).searchParams.get("token")!);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('content="0;url=/"');
    const cookie = response.headers.getSetCookie()[0]!.split(";")[0]!;
    expect((await fetch(`${agentOrigin}/`, { headers: { cookie } })).status).toBe(200);
    const tampered = cookie.slice(0, -2) + (cookie.endsWith("A") ? "BB" : "AA");
    expect((await fetch(`${agentOrigin}/`, { headers: { cookie: tampered } })).status).toBe(401);
  });

  it("refuses forged, expired, misdirected and altered tokens with 401 and no session", async () => {
    const { db } = app.database;
    const issuer = app.baseUrl;
    const sign = (input: Partial<Parameters<typeof signTerminalToken>[2]>) =>
      signTerminalToken(db, signUp.keyring, {
        userId: signUp.userId,
        workspaceId,
        issuer,
        expiresInSeconds: 300,
        ...input,
      }).then((signed) => signed.token);
    const valid = await sign({});
    const [header, payload, signature] = valid.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<
      string,
      unknown
    >;
    const { kid } = JSON.parse(Buffer.from(header!, "base64url").toString()) as { kid: string };
    const jwks = (await (await fetch(`${app.baseUrl}/.well-known/jwks.json`)).json()) as {
      keys: JWK[];
    };
    const publicPem = await exportSPKI(
      (await importJWK(
        jwks.keys.find((key) => key.kid === kid)!,
        "RS256",
      )) as CryptoKey,
    );
    const hsHeader = base64url({ alg: "HS256", kid, typ: "JWT" });
    const hsSignature = createHmac("sha256", publicPem)
      .update(`${hsHeader}.${payload}`)
      .digest("base64url");
    const stranger = await generateKeyPair("RS256");
    const current = await readSigningKey(db, signUp.keyring);
    const forged = {
      "alg: none": `${base64url({ alg: "none", kid, typ: "JWT" })}.${payload}.`,
      "HS256 signed with the public key": `${hsHeader}.${payload}.${hsSignature}`,
      expired: await sign({ now: new Date(Date.now() - 2 * 60 * 60_000), expiresInSeconds: 60 }),
      "wrong aud": await new SignJWT({ ...claims, aud: "another-audience" })
        .setProtectedHeader({ alg: "RS256", kid: current.kid })
        .sign(current.privateKey),
      "wrong iss": await sign({ issuer: "https://evil.example" }),
      "another workspace": await sign({ workspaceId: randomUUID() }),
      "unknown kid": await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: "RS256", kid: "not-a-key-of-ours" })
        .sign(stranger.privateKey),
      "altered payload": `${header}.${base64url({ ...claims, sub: randomUUID() })}.${signature}`,
    };
    for (const [name, token] of Object.entries(forged)) {
      await expectRefused(token).catch((error: Error) => {
        throw new Error(`${name}: ${error.message}`);
      });
    }
    expect(claims.aud).toBe(terminalAudience);
  });
});

describe("an idle workspace", () => {
  it("is stopped by its agent after the idle timeout", async () => {
    const idleApp = await startApp({ LOCAL_AGENT_IDLE_TIMEOUT_SECONDS: "6" });
    try {
      const { api: idleApi } = await signUpWithApiToken(idleApp, browser, "idle-user");
      const { id } = await idleApi.workspaces.create.mutate({
        name: "idle",
        repository: "stand-in/sample",
        branch: "main",
      });
      await waitForWorkspace(idleApi, id, "running");
      await waitForWorkspace(idleApi, id, "stopped");
      const events = await idleApi.workspaces.events.query({ id });
      expect(events.find((event) => event.toState === "stopping")).toMatchObject({
        actor: "agent",
      });
      await idleApi.workspaces.delete.mutate({ id });
      await waitForWorkspace(idleApi, id, "deleted");
    } finally {
      await idleApp.stop();
    }
  });
});
