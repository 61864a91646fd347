import { createHash, randomUUID } from "node:crypto";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalProvider } from "./local.ts";
import { workspaceAccountName } from "./local-accounts.ts";
import { isLocalAgentUp } from "./local-agent-probe.ts";
import type { LocalUserData } from "./local-agent.ts";
import type { CreateServerInput, CreateVolumeInput, Labels, Provider } from "./provider.ts";

// The one-machine provider in this process (the e2e tests drive it inside worker programs,
// where coverage does not see it): its "server" is a real process started from an agent it
// downloads over HTTP and checks by SHA-256, its "volume" a real folder. The agent here is a
// shell script that writes the environment it was given into the workspace folder and waits.

const standInAgent = [
  "#!/bin/sh",
  'env | grep -E "^(WORKSPACE_ID|AGENT_PORT|AGENT_HOST|CONTROL_PLANE_URL|BOOTSTRAP_TOKEN)=" | sort > agent-env',
  'echo "uid=$(id -u)" >> agent-env',
  "exec sleep 600",
  "",
].join("\n");
const run = promisify(execFile);
const agentSha256 = createHash("sha256").update(standInAgent).digest("hex");

let download: Server;
let downloadUrl: string;
let dataDir: string;
let provider: Provider;
const downloads: string[] = [];

beforeAll(async () => {
  download = createServer((request, response) => {
    downloads.push(request.url ?? "");
    if (request.url === "/agent/download?arch=amd64") response.end(standInAgent);
    else response.writeHead(404).end("not found");
  });
  await new Promise<void>((resolve) => download.listen(0, "127.0.0.1", resolve));
  downloadUrl = `http://127.0.0.1:${(download.address() as AddressInfo).port}`;
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-local-provider-"));
  provider = createLocalProvider({ dataDir, isolate: false });
});
afterAll(async () => {
  await new Promise((resolve) => download?.close(resolve));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const userDataFor = (workspaceId: string, overrides: Partial<LocalUserData> = {}) =>
  JSON.stringify({
    controlPlaneUrl: downloadUrl,
    workspaceId,
    bootstrapToken: "bootstrap-token-for-the-test",
    agentDownloadUrl: `${downloadUrl}/agent/download?arch=amd64`,
    agentSha256,
    ...overrides,
  } satisfies LocalUserData);

/** What the engine asks a provider for: a workspace's volume, then its server. */
const volumeRequestFor = (workspaceId: string, labels: Labels): CreateVolumeInput => ({
  name: `ws-${workspaceId}`,
  sizeGb: 10,
  location: "local",
  labels,
});
const serverRequestFor = (
  workspaceId: string,
  labels: Labels,
  volumeIds: string[],
  userData: Partial<LocalUserData> = {},
): CreateServerInput => ({
  name: `ws-${workspaceId}`,
  serverType: "local",
  location: "local",
  userData: userDataFor(workspaceId, userData),
  labels,
  volumeIds,
});

async function waitForFile(file: string): Promise<string> {
  for (let tries = 0; ; tries++) {
    const text = await readFile(file, "utf8").catch(() => "");
    if (text.includes("uid=")) return text; // the script's last line: the file is complete
    if (tries > 600) throw new Error(`${file} never appeared`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("the local provider", () => {
  it("runs a workspace's agent on its volume folder, finds it by label, and stops it", async () => {
    const workspaceId = randomUUID();
    const labels = { workspace: workspaceId, "managed-by": "cloud-ai-workspaces" };
    const volume = await provider.createVolume(volumeRequestFor(workspaceId, labels));
    expect(await provider.createVolume({ ...volume, location: "local" })).toEqual(volume);
    const request = serverRequestFor(workspaceId, labels, [volume.id]);
    const server = await provider.createServer(request);
    expect(server).toMatchObject({ status: "running", ipv4: "127.0.0.1", labels });

    // The agent runs in the volume's folder with the facts of its user data.
    const folder = path.join(dataDir, "workspaces", "volumes", `ws-${workspaceId}`);
    const environment = await waitForFile(path.join(folder, "agent-env"));
    expect(environment).toContain(`WORKSPACE_ID=${workspaceId}`);
    expect(environment).toContain(`AGENT_PORT=${server.agentPort}`);
    expect(environment).toContain("AGENT_HOST=127.0.0.1");

    // Asking again (a retried job) finds the running server instead of starting another.
    const again = await provider.createServer(request);
    expect(again).toEqual(server);
    expect(downloads.filter((url) => url.startsWith("/agent"))).toHaveLength(1); // cached
    expect(await provider.listServers({ workspace: workspaceId })).toEqual([server]);
    expect(await provider.listServers({ workspace: randomUUID() })).toEqual([]);
    expect(await provider.getVolume(volume.id)).toMatchObject({ serverId: server.id });
    // Not an agent: the stand-in answers no /health.
    expect(
      await isLocalAgentUp({ id: workspaceId, agentUrl: `http://x:${server.agentPort}` }),
    ).toBe(false);

    await provider.deleteServer(server.id);
    expect(await provider.getServer(server.id)).toBeNull();
    expect(await provider.getVolume(volume.id)).toMatchObject({ serverId: null });
    expect(await provider.listVolumes({ workspace: workspaceId })).toHaveLength(1);
    // The folder outlives its server, as a volume outlives a VM.
    expect((await stat(folder)).isDirectory()).toBe(true);
    await provider.deleteServer(server.id); // already gone: nothing to do

    await provider.deleteVolume(volume.id);
    expect(await provider.getVolume(volume.id)).toBeNull();
    await expect(stat(folder)).rejects.toThrow(/ENOENT/);
  });

  it("refuses an agent whose SHA-256 differs from the user data's, and says so", async () => {
    const workspaceId = randomUUID();
    const create = (overrides: Partial<LocalUserData>) =>
      provider.createServer(
        serverRequestFor(workspaceId, { workspace: workspaceId }, [], overrides),
      );
    await expect(create({ agentSha256: "0".repeat(64) })).rejects.toThrow(
      `The downloaded agent's SHA-256 is ${agentSha256}, not ${"0".repeat(64)}; refusing to run it.`,
    );
    await expect(
      create({ agentDownloadUrl: `${downloadUrl}/agent/nowhere`, agentSha256: "1".repeat(64) }),
    ).rejects.toThrow(`Downloading the agent from ${downloadUrl}/agent/nowhere answered 404.`);
    expect(await provider.listServers({ workspace: workspaceId })).toEqual([]);
  });

  it("offers one local server type and takes any token", async () => {
    await expect(provider.validateToken()).resolves.toBeUndefined();
    const catalogue = await provider.getCatalogue();
    expect(catalogue.currency).toBeNull();
    expect(catalogue.offers.length).toBeGreaterThan(0);
  });
});

const runningAsRoot = process.getuid?.() === 0;

describe("the local provider as root", () => {
  it("runs as root in CI, where isolation must be tested", () => {
    if (process.env.CI) expect(runningAsRoot).toBe(true);
  });

  it.runIf(runningAsRoot)(
    "runs each workspace's agent as an OS user of its own, who goes with the volume",
    async () => {
      const root = await mkdtemp(path.join(os.tmpdir(), "caw-local-isolated-"));
      await chmod(root, 0o711); // the workspace's user must pass through (AGENTS.md)
      try {
        const isolated = createLocalProvider({ dataDir: root, isolate: true });
        const workspaceId = randomUUID();
        const labels = { workspace: workspaceId };
        const volume = await isolated.createVolume(volumeRequestFor(workspaceId, labels));
        const server = await isolated.createServer(
          serverRequestFor(workspaceId, labels, [volume.id]),
        );
        const account = workspaceAccountName(workspaceId);
        const { stdout } = await run("id", ["-u", account]);
        // /tmp lets others pass, so the folders stay under DATA_DIR (local-folders.ts).
        const folder = path.join(root, "workspaces", "volumes", `ws-${workspaceId}`);
        const environment = await waitForFile(path.join(folder, "agent-env"));
        expect(environment).toContain(`uid=${stdout.trim()}`);
        expect(stdout.trim()).not.toBe("0");

        await isolated.deleteServer(server.id);
        await isolated.deleteVolume(volume.id);
        await expect(run("id", ["-u", account])).rejects.toThrow(/no such user/);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
  );
});

describe("isLocalAgentUp", () => {
  let health: Server;
  let port: number;
  const workspaceId = randomUUID();
  beforeAll(async () => {
    health = createServer((request, response) => {
      if (request.url === "/health")
        response.end(JSON.stringify({ status: "ok", workspace: workspaceId }));
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => health.listen(0, "127.0.0.1", resolve));
    port = (health.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => health?.close(resolve)));

  it("is true only for this workspace's agent answering on its URL's port", async () => {
    const agentUrl = `http://ws.localhost:${port}`;
    expect(await isLocalAgentUp({ id: workspaceId, agentUrl })).toBe(true);
    expect(await isLocalAgentUp({ id: randomUUID(), agentUrl })).toBe(false);
    expect(await isLocalAgentUp({ id: workspaceId, agentUrl: null })).toBe(false);
    expect(await isLocalAgentUp({ id: workspaceId, agentUrl: "http://ws.localhost" })).toBe(false);
  });
});
