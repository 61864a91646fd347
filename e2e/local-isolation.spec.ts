import { stripVTControlCharacters } from "node:util";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TerminalClient } from "../agent/terminal/test-support.ts";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { findFreePort } from "../server/process/free-port.ts";
import { workspaceAccountName } from "../server/providers/local-accounts.ts";
import { startNodeProgram, type RunningProgram } from "../server/testing/program.ts";
import { waitForWorkspace } from "../sdk/index.ts";
import { launchBrowser } from "./support/browser.ts";
import type { RunningApp } from "./support/app.ts";
import { signUpWithApiToken, type WorkspaceApi } from "./support/workspace-api.ts";

// The one-machine mode exactly as `npm start` runs it as root (embedded PostgreSQL, generated
// secrets, the GitHub stand-in), with two members. Each opens a real shell in their own
// workspace and tries to read what is not theirs (SPEC §10, issue #10).

const run = promisify(execFile);
const runningAsRoot = process.getuid?.() === 0;

type Member = { api: WorkspaceApi; workspaceId: string; shell: TerminalClient };

let launcher: RunningProgram;
let browser: Browser;
let dataDir: string;
let baseUrl: string;
let alice: Member;
let bob: Member;

beforeAll(async () => {
  // CI runs as root; there this must run, never quietly skip.
  if (!runningAsRoot && process.env.CI)
    throw new Error("The isolation test needs root (it creates OS users); CI runs as root.");
  if (!runningAsRoot) return;
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-isolation-"));
  // As `npm start` in a checkout others may pass through (mkdtemp makes 0700).
  await chmod(dataDir, 0o711);
  const port = await findFreePort();
  baseUrl = `http://localhost:${port}`;
  launcher = startNodeProgram("server/start.ts", [], {
    PORT: String(port),
    PUBLIC_URL: baseUrl,
    DATA_DIR: dataDir,
    // Unset (empty means unset): the launcher starts its own database and makes its secrets.
    DATABASE_URL: "",
    ENCRYPTION_KEYS: "",
  });
  await launcher.waitForLog("web server listening", 120_000);
  await launcher.waitForLog("worker ready");
  browser = await launchBrowser();
  const encryptionKeys = await readFile(path.join(dataDir, "secrets", "encryption-keys"), "utf8");
  const app = { baseUrl, encryptionKeys: encryptionKeys.trim() } as RunningApp;
  [alice, bob] = [await createMember(app, "iso-alice"), await createMember(app, "iso-bob")];
}, 240_000);

afterAll(async () => {
  for (const member of [alice, bob]) {
    if (!member) continue;
    member.shell.ws.close();
    await member.api.workspaces.delete.mutate({ id: member.workspaceId }).catch(() => {});
    await waitForWorkspace(member.api, member.workspaceId, "deleted").catch(() => {});
  }
  await browser?.close();
  await launcher?.stop("SIGTERM");
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 120_000);

async function createMember(app: RunningApp, login: string): Promise<Member> {
  const { api } = await signUpWithApiToken(app, browser, login);
  const { id } = await api.workspaces.create.mutate({
    name: "isolated",
    repository: `${sampleRepository.owner}/${sampleRepository.name}`,
    branch: "main",
  });
  const running = await waitForWorkspace(api, id, "running", { timeoutMs: 120_000 });
  const agentOrigin = `http://127.0.0.1:${new URL(running!.agentUrl!).port}`;
  const { url } = await api.terminal.token.mutate({ workspaceId: id });
  const entry = await fetch(`${agentOrigin}/?token=${new URL(url).searchParams.get("token")}`);
  const cookie = entry.headers.getSetCookie()[0]!.split(";")[0]!;
  return { api, workspaceId: id, shell: await connectClient(agentOrigin, { cookie }) };
}

let commandNumber = 0;

/** Runs `command` in the member's shell; its output and exit status. */
async function runInShell(member: Member, command: string) {
  commandNumber += 1;
  // The markers are computed by the shell, so the echo of the typed line never matches them.
  const [begin, end] = [`__b${commandNumber}_`, `__e${commandNumber}_`];
  const before = member.shell.text().length;
  member.shell.type(`echo "${begin}$((1000))__"; ${command} 2>&1; echo "${end}$((1000+$?))__"\r`);
  const pattern = new RegExp(`${begin}1000__([\\s\\S]*)${end}1(\\d{3})__`);
  // tmux redraws with cursor movements between the lines; what was printed is the text between.
  const printed = () => stripVTControlCharacters(member.shell.text().slice(before));
  await member.shell.waitFor(`the end of "${command}"`, () => pattern.test(printed()));
  const [, output, status] = pattern.exec(printed())!;
  return { status: Number(status), output: output!.replace(/\r/g, "").trim() };
}

/** The local provider's record (a JSON file only root reads) of a workspace's volume or server. */
async function recordOf<T>(kind: "volumes" | "servers", workspaceId: string): Promise<T> {
  const folder = path.join(dataDir, "workspaces", kind);
  for (const name of await readdir(folder)) {
    if (!name.endsWith(".json")) continue;
    const record = JSON.parse(await readFile(path.join(folder, name), "utf8")) as T & {
      labels: Record<string, string>;
    };
    if (record.labels.workspace === workspaceId) return record;
  }
  throw new Error(`no ${kind} record for ${workspaceId}`);
}

const volumeFolderOf = async (workspaceId: string) =>
  (await recordOf<{ folder: string }>("volumes", workspaceId)).folder;

describe.runIf(runningAsRoot)("one-machine mode as root: a workspace per OS user", () => {
  it("runs each member's shell as an unprivileged user of its own", async () => {
    const aliceId = await runInShell(alice, "id -u");
    const bobId = await runInShell(bob, "id -u");
    const [aliceUid, bobUid] = [Number(aliceId.output.trim()), Number(bobId.output.trim())];
    expect(aliceUid).toBeGreaterThan(0);
    expect(bobUid).toBeGreaterThan(0);
    expect(aliceUid).not.toBe(bobUid);
    expect((await stat(await volumeFolderOf(alice.workspaceId))).uid).toBe(aliceUid);
    const { stdout } = await run("id", ["-u", workspaceAccountName(alice.workspaceId)]);
    expect(Number(stdout.trim())).toBe(aliceUid);
    // A usable login: its own HOME and USER, and the clone is its own to work in.
    const home = await runInShell(
      alice,
      'echo "$USER $HOME" && touch "$HOME/.probe" && git log -1 --format=%s',
    );
    expect(home.status).toBe(0);
    expect(home.output).toContain(workspaceAccountName(alice.workspaceId));
    expect(home.output).toContain(sampleRepository.commitSubject);
    // A clean login environment: none of the agent's own settings reach the shell.
    const leaked = await runInShell(
      alice,
      "env | grep -E '^(BOOTSTRAP_TOKEN|STATE_DIR|AGENT_PORT)=' || true",
    );
    expect(leaked.output).toBe("");
  });

  it("cannot read the install's secrets, its database or the GitHub stand-in's store", async () => {
    const secrets = path.join(dataDir, "secrets");
    const database = path.join(dataDir, "pg");
    for (const target of [
      path.join(secrets, "encryption-keys"),
      path.join(secrets, "postgres-password"),
      path.join(database, "PG_VERSION"),
      path.join(database, "global", "pg_control"),
    ]) {
      const attempt = await runInShell(alice, `cat '${target}'`);
      expect(attempt.status, `cat ${target}: ${attempt.output}`).not.toBe(0);
      expect(attempt.output).toMatch(/Permission denied/);
    }
    for (const folder of [secrets, database, path.join(dataDir, "github"), dataDir]) {
      const listing = await runInShell(alice, `ls '${folder}'`);
      expect(listing.status, `ls ${folder}: ${listing.output}`).not.toBe(0);
    }
    // The files are really there: root reads them.
    await expect(readFile(path.join(secrets, "encryption-keys"), "utf8")).resolves.toMatch(/\w/);
  });

  it("cannot read, change or signal another member's workspace", async () => {
    const bobFolder = await volumeFolderOf(bob.workspaceId);
    const bobServer = await recordOf<{ id: string; pid: number }>("servers", bob.workspaceId);
    // The agent's state (its token for the control plane) sits beside the volumes.
    const bobState = path.join(path.dirname(path.dirname(bobFolder)), "state", bobServer.id);
    await expect(stat(path.join(bobFolder, ".git"))).resolves.toBeTruthy();
    await expect(stat(path.join(bobState, "agent.json"))).resolves.toBeTruthy();
    const attempts = [
      `ls '${bobFolder}'`,
      `cat '${bobFolder}/.git/config'`,
      `touch '${bobFolder}/planted'`,
      `cat '${bobState}/agent.json'`,
      `ls '${bobState}'`,
    ];
    for (const command of attempts) {
      const attempt = await runInShell(alice, command);
      expect(attempt.status, `${command}: ${attempt.output}`).not.toBe(0);
    }
    const bobAgent = bobServer.pid;
    expect((await stat(`/proc/${bobAgent}`)).uid).toBeGreaterThan(0);
    const environ = await runInShell(alice, `cat /proc/${bobAgent}/environ`);
    expect(environ.status).not.toBe(0);
    const signal = await runInShell(alice, `kill -0 ${bobAgent}`);
    expect(signal.status).not.toBe(0);
    expect(signal.output).toMatch(/not permitted/i);
  });

  it("cannot sign in to the control plane as another member through the GitHub stand-in", async () => {
    // What a shell on this machine can do: start a sign-in and answer the stand-in's form
    // itself. The stand-in runs on loopback, which every workspace reaches.
    const script = [
      `loc=$(curl -s -o /dev/null -D - '${baseUrl.replace("localhost", "127.0.0.1")}/auth/github' | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')`,
      'standin="${loc%%[?]*}"',
      'curl -s -o /dev/null -w "%{http_code}\\n" -X POST "$standin" --data "${loc#*[?]}&login=iso-bob&password=guessed"',
    ].join("; ");
    const attempt = await runInShell(alice, script);
    expect(attempt.output.split("\n").at(-1)).toBe("401");
  });

  it("removes the workspace's OS user and its processes with the workspace", async () => {
    const name = workspaceAccountName(bob.workspaceId);
    const uid = Number((await run("id", ["-u", name])).stdout.trim());
    // A process that left the agent's process group, as a daemon would.
    await runInShell(bob, "setsid nohup sleep 1000 >/dev/null 2>&1 < /dev/null &");
    // And a file in the shared /tmp, which a later account with the same uid must not inherit.
    const leftover = `/tmp/caw-leftover-${bob.workspaceId}`;
    await runInShell(bob, `echo secret > ${leftover}`);
    expect((await stat(leftover)).uid).toBe(uid);
    bob.shell.ws.close();
    await bob.api.workspaces.delete.mutate({ id: bob.workspaceId });
    await waitForWorkspace(bob.api, bob.workspaceId, "deleted", { timeoutMs: 60_000 });
    await expect(run("id", ["-u", name])).rejects.toThrow();
    // Each process left with the deleted user's uid, with what it is, so a failure says which.
    const leftovers = await processesOwnedBy(uid);
    expect(leftovers).toEqual([]);
    await expect(stat(leftover)).rejects.toThrow();
  });
});

async function processesOwnedBy(uid: number): Promise<string[]> {
  const found: string[] = [];
  for (const entry of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
    const owner = await stat(`/proc/${entry}`).then(
      (info) => info.uid,
      () => -1,
    );
    if (owner !== uid) continue;
    const status = await readFile(`/proc/${entry}/status`, "utf8").catch(() => "");
    const command = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const field = (key: string) => new RegExp(`^${key}:\\s+(.*)$`, "m").exec(status)?.[1] ?? "?";
    found.push(
      `${entry} state=${field("State")} ppid=${field("PPid")} ${command.replaceAll("\0", " ")}`,
    );
  }
  return found;
}
