import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, jobEvents, workspaceEvents } from "../db/schema.ts";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { waitForWorkspace } from "../sdk/index.ts";
import { SettingsPage } from "./pages/settings-page.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";
import {
  enterTerminal,
  runInTerminal,
  type TerminalTarget,
} from "./support/real-os/terminal-client.ts";
import { signUpOverHttp, type WorkspaceApi } from "./support/workspace-api.ts";

// SPEC §14 acceptance: a secret set through the API is in a new shell's environment, and in no
// log line. The one-machine app (launcher, web, worker, the built agent) at debug level; the
// secrets go in through the SDK, come out in terminals over a real WebSocket, and then every
// log the run wrote (the programs' output, the agent's log files, every file under DATA_DIR,
// the job log, the timeline and the audit log) is searched for them.

const unique = (label: string) => `caw-${label}-${randomBytes(12).toString("hex")}`;
const first = unique("first");
const changed = unique("changed");
const other = unique("other");
const typedInBrowser = unique("browser");

let dataDir: string;
let app: RunningApp;
let api: WorkspaceApi;
let workspaceId: string | undefined;
let target: TerminalTarget;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-secrets-e2e-"));
  // Passable by the workspace's own OS user when run as root (mkdtemp makes 0700).
  await chmod(dataDir, 0o711);
  app = await startApp({ DATA_DIR: dataDir, LOG_LEVEL: "debug" });
  api = await signUpOverHttp(app.baseUrl, "secrets-user");
});
afterAll(async () => {
  if (api && workspaceId) {
    await api.workspaces.delete.mutate({ id: workspaceId }).catch(() => {});
    await waitForWorkspace(api, workspaceId, "deleted", { timeoutMs: 60_000 }).catch(() => {});
  }
  await app?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Runs `printf` of the variables in a new shell (or `session`) and answers the printed line. */
async function printInNewShell(format: string, names: string[], expected: string) {
  const { url } = await api.terminal.token.mutate({ workspaceId: workspaceId! });
  const cookie = await enterTerminal(target, url);
  const command = `printf '${format}\\n' ${names.map((name) => `"\${${name}:-none}"`).join(" ")}`;
  const output = await runInTerminal(target, cookie, command, expected);
  expect(output).toContain(expected);
  return output;
}

describe("a secret set through the API", () => {
  it("is in a new shell's environment, as chosen, and a change reaches the next new shell", async () => {
    await api.secrets.set.mutate({ name: "E2E_SECRET", value: first });
    await api.secrets.set.mutate({ name: "E2E_OTHER", value: other });
    expect(JSON.stringify(await api.secrets.list.query())).not.toContain(first);
    const created = await api.workspaces.create.mutate({
      name: "secrets",
      repository: `${sampleRepository.owner}/${sampleRepository.name}`,
      branch: "main",
      secretNames: ["E2E_SECRET"],
    });
    workspaceId = created.id;
    expect(created).toMatchObject({ secretNames: ["E2E_SECRET"], maxWorkingHours: 8 });
    const running = await waitForWorkspace(api, workspaceId, "running", { timeoutMs: 80_000 });
    const agentUrl = running.agentUrl!;
    target = { agentUrl, address: "127.0.0.1", port: Number(new URL(agentUrl).port) };

    // Only the chosen secret: E2E_OTHER is not in the shell.
    await printInNewShell("[%s|%s]", ["E2E_SECRET", "E2E_OTHER"], `[${first}|none]`);

    // Replaced through the API: the next new shell has the new value, without a restart.
    await api.secrets.set.mutate({ name: "E2E_SECRET", value: changed });
    await printInNewShell("[%s]", ["E2E_SECRET"], `[${changed}]`);

    // All secrets now: the next new shell has both.
    await api.workspaces.update.mutate({ id: workspaceId, secretNames: null });
    await printInNewShell("[%s|%s]", ["E2E_SECRET", "E2E_OTHER"], `[${changed}|${other}]`);
  });

  it("is managed in Settings: listed by name, the value cleared and never shown", async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await new SignInPage(page).signInAs(app.baseUrl, "secrets-user");
      const settings = new SettingsPage(page);
      await settings.open(app.baseUrl);
      await settings.secretRows.filter({ hasText: "E2E_SECRET" }).waitFor();
      // The form checks with the API's own rule as one types (it upper-cases as one types).
      await settings.secretName.fill("1ST_KEY");
      await page.getByText("upper-case letters").waitFor();
      await settings.saveSecret("BROWSER_SECRET", typedInBrowser);
      expect(await page.content()).not.toContain(typedInBrowser);
      await page.reload();
      await settings.secretRows.filter({ hasText: "BROWSER_SECRET" }).waitFor();
      expect(await page.content()).not.toContain(typedInBrowser);
      await settings.deleteSecret("BROWSER_SECRET");
      expect((await api.secrets.list.query()).map((secret) => secret.name)).toEqual([
        "E2E_OTHER",
        "E2E_SECRET",
      ]);
      // The create form: "Choose" with a checkbox per secret, and the longest working time.
      await page.goto(`${app.baseUrl}/workspaces/new`);
      const repository = `${sampleRepository.owner}/${sampleRepository.name}`;
      const picker = page.getByLabel("Repository");
      await picker.locator(`option[value="${repository}"]`).waitFor({ state: "attached" });
      await picker.selectOption(repository);
      await page.getByLabel("Name", { exact: true }).fill("chosen");
      await page.getByLabel("Longest working time without input (hours)").fill("12");
      await page.getByLabel("Choose", { exact: true }).check();
      await page.getByLabel("E2E_OTHER").check();
      await page.getByRole("button", { name: "Create workspace" }).click();
      await page.waitForURL(/\/workspaces\/[0-9a-f-]{36}$/);
      const id = new URL(page.url()).pathname.split("/").pop()!;
      expect(await api.workspaces.get.query({ id })).toMatchObject({
        secretNames: ["E2E_OTHER"],
        maxWorkingHours: 12,
      });
      await api.workspaces.delete.mutate({ id });
      await waitForWorkspace(api, id, "deleted", { timeoutMs: 80_000 });
    } finally {
      await browser.close();
    }
  });

  it("is in no log line, no file under DATA_DIR, no job log, timeline or audit entry", async () => {
    const values = [first, changed, other, typedInBrowser];
    const places: Record<string, string> = {
      "launcher, web and worker output": app.launcher.output(),
      ...(await readFilesUnder(dataDir)),
      ...(await readRecords(app)),
    };
    // The search itself must be able to fail: the logs are there, the secret fetches among them.
    expect(places["launcher, web and worker output"]).toContain('"path":"/api/agent/secrets"');
    expect(Object.keys(places).some((place) => place.endsWith(".log"))).toBe(true);
    const leaks = Object.entries(places).flatMap(([place, text]) =>
      values.filter((value) => text.includes(value)).map((value) => `${place}: ${value}`),
    );
    expect(leaks).toEqual([]);
  });
});

/** Every regular file under `root` (the agent binary and other big files left out), by path. */
async function readFilesUnder(root: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if ((await stat(file)).size > 16 * 1024 * 1024) continue;
    found[path.relative(root, file)] = await readFile(file, "latin1");
  }
  return found;
}

/** The log lines the control plane keeps in its database. */
async function readRecords(running: RunningApp): Promise<Record<string, string>> {
  const { db } = running.database;
  return {
    "job log": JSON.stringify(await db.select().from(jobEvents)),
    timeline: JSON.stringify(await db.select().from(workspaceEvents)),
    "audit log": JSON.stringify(await db.select().from(auditLog)),
  };
}
