import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import os from "node:os";
import path from "node:path";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workspaceSessions } from "../db/schema.ts";
import { reconcileStaleWorkspaces } from "../server/services/maintenance.ts";
import { projectRoot } from "../server/testing/program.ts";
import { sharedGitHubStandIn } from "../server/testing/test-github.ts";
import { startEngineHarness, type EngineHarness } from "./support/engine.ts";
import {
  forwardHttpToLoopback,
  forwardToLoopback,
  type Forward,
} from "./support/real-os/gateway.ts";
import { startHypervisor, type BootedServer } from "./support/real-os/hypervisor.ts";
import { createTestNetwork, type TestNetwork } from "./support/real-os/network.ts";
import { ensureRootImage } from "./support/real-os/root-image.ts";
import { run } from "./support/real-os/run.ts";
import {
  enterTerminal,
  runInTerminal,
  type TerminalTarget,
} from "./support/real-os/terminal-client.ts";

// The user data the worker really sent to (fake) Hetzner, booted on a real init system:
// Debian 12 from Debian's packages under systemd-nspawn, cloud-init reading a NoCloud seed,
// the volume as a block device at Hetzner's by-id path, in a network namespace that reaches
// only the control plane and the GitHub stand-in on this host. Each step prints its time.
// Needs root and debootstrap, systemd-nspawn, iproute2, zstd (.ci/run installs them); a
// missing one skips locally (reported as skipped) and fails in CI.

const required = ["debootstrap", "systemd-nspawn", "ip", "losetup", "nsenter", "zstd", "mount"];
const missing = required.filter(
  (command) => spawnSync("sh", ["-c", `command -v ${command}`]).status !== 0,
);
const isRoot = process.getuid?.() === 0;
const unavailable = !isRoot ? "needs root" : missing.length ? `needs ${missing.join(", ")}` : "";
const distDir = path.join(projectRoot, "dist", "agent");

const started = Date.now();
let stepStarted = Date.now();
function step(name: string) {
  const now = Date.now();
  process.stdout.write(
    `real-os: ${name} (${((now - stepStarted) / 1000).toFixed(1)} s since the last step, ${((now - started) / 1000).toFixed(1)} s in all)\n`,
  );
  stepStarted = now;
}
const log = (line: string) => process.stdout.write(`real-os: ${line}\n`);

let network: TestNetwork;
let engine: EngineHarness;
let hypervisor: ReturnType<typeof startHypervisor>;
let workDir: string;
let agentDist: string;
const forwards: Forward[] = [];
let apiToken: string;
let workspaceId: string;
let tamperedDownload: Buffer | undefined;

function serveTampered(req: IncomingMessage, res: ServerResponse): boolean {
  if (!tamperedDownload || !req.url?.startsWith("/agent/download")) return false;
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "content-encoding": "zstd",
    "content-length": tamperedDownload.length,
  });
  res.end(tamperedDownload);
  return true;
}

describe.skipIf(Boolean(unavailable) && !process.env.CI)(
  `a workspace server on a real init system${unavailable ? ` (${unavailable})` : ""}`,
  () => {
    beforeAll(async () => {
      expect(unavailable, "CI must run the real-OS boot test; .ci/run installs its tools").toBe("");
      if (!existsSync(path.join(distDir, "manifest.json")))
        throw new Error(`${distDir} has no agent: run npm run build first.`);
      stepStarted = Date.now();
      const rootImage = await ensureRootImage(log);
      step("root image ready");
      workDir = await mkdtemp(path.join(os.tmpdir(), "caw-real-os-"));
      // A copy the test can tamper with, without touching the build.
      agentDist = path.join(workDir, "agent");
      await cp(distDir, agentDist, { recursive: true });
      network = await createTestNetwork();
      const standIn = await sharedGitHubStandIn();
      const github = await forwardToLoopback(network.hostAddress, standIn.url);
      forwards.push(github);
      engine = await startEngineHarness(
        { AGENT_DIST_DIR: agentDist, GITHUB_URL: github.url },
        {
          publicUrlOf: async (baseUrl) => {
            const web = await forwardHttpToLoopback(network.hostAddress, baseUrl, serveTampered);
            forwards.push(web);
            return web.url;
          },
        },
      );
      // The servers reach GitHub through the forward: hand out credentials for that host.
      engine.context.github.webUrl = github.url;
      hypervisor = startHypervisor({
        hetzner: engine.hetzner,
        network,
        rootImage,
        workDir: path.join(workDir, "servers"),
        log,
      });
      await engine.startWorker();
      apiToken = (await engine.api.tokens.create({ name: "real-os" })).token;
      step("control plane, fakes and worker up");
    }, 20 * 60_000);

    afterAll(async () => {
      await hypervisor?.close();
      await engine?.close();
      for (const forward of forwards) await forward.close();
      await network?.close();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    }, 5 * 60_000);

    /** Until the workspace has its server: booting, or already failed by its boot. */
    async function waitForServerOrdered(id: string, timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const row = await engine.readWorkspace(id);
        if (row.serverId && ["booting", "error"].includes(row.state)) return;
        if (Date.now() > deadline)
          throw new Error(`workspace still ${row.state} with no server after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    async function currentServer(): Promise<BootedServer> {
      const row = await engine.readWorkspace(workspaceId);
      return hypervisor.waitForServer(Number(row.serverId));
    }

    it(
      "refuses a tampered agent binary and says why, within a minute of the download",
      async () => {
        // In transit, the server is handed another agent than the one its user data names: a
        // valid zstd download of the genuine binary with one byte more.
        tamperedDownload = await run("sh", [
          "-c",
          `{ cat "$1"; printf x; } | zstd -q -1 -c | base64 -w0`,
          "sh",
          path.join(agentDist, "agent-linux-x64"),
        ]).then((text) => Buffer.from(text, "base64"));
        try {
          const created = await engine.api.workspaces.create({
            name: "real-os",
            repository: "stand-in/sample",
            branch: "main",
            serverType: "cx23",
            location: "nbg1",
          });
          workspaceId = created.id;
          // The tampered agent can fail the boot before a poll sees `booting`.
          await waitForServerOrdered(workspaceId, 120_000);
          const server = await currentServer();
          step("server created, machine booting (tampered agent)");
          const failed = await engine.waitForState(workspaceId, "error", 5 * 60_000);
          step("workspace error reported by the bootstrap");
          expect(failed.stateReason).toContain("verify-agent failed");
          expect(failed.stateReason).toContain("does not match SHA-256");
          await expect(
            server.machine.exec(["test", "-e", "/usr/local/bin/cloud-ai-workspaces-agent"]),
          ).rejects.toThrow();
          const status = await server.machine
            .exec(["cloud-init", "status", "--wait"])
            .catch((error: Error) => error.message);
          expect(status).toContain("status: error");
        } finally {
          tamperedDownload = undefined;
        }
      },
      8 * 60_000,
    );

    it(
      "boots the genuine agent to running: volume, unit, clone, terminal as the workspace user",
      async () => {
        await engine.api.workspaces.start({ id: workspaceId });
        const row = await engine.waitForState(workspaceId, "booting", 120_000);
        const server = await hypervisor.waitForServer(Number(row.serverId));
        step("new server created, machine booting");
        expect(await server.machine.waitForSystem()).toMatch(/running|degraded/);
        step("systemd up");
        const status = await server.machine.exec(["cloud-init", "status", "--wait", "--long"]);
        step("cloud-init finished");
        expect(status).toContain("status: done");
        expect(status).not.toMatch(/errors: \[\s*'/);
        await engine.waitForState(workspaceId, "running", 5 * 60_000);
        step("workspace running");
        const bootstrapLog = await server.machine.exec([
          "cat",
          "/var/log/cloud-ai-workspaces-bootstrap.log",
        ]);
        for (const name of [
          "workspace-user",
          "mount-volume",
          "download-agent",
          "verify-agent",
          "start-agent",
        ])
          expect(bootstrapLog, bootstrapLog).toContain(`step ${name} done`);
        const mounts = await server.machine.exec(["cat", "/proc/mounts"]);
        expect(mounts, `${mounts}\n${bootstrapLog}`).toMatch(/^\/dev\/\S+ \/workspace ext4 /m);
        expect(
          (
            await server.machine.exec(["systemctl", "is-active", "cloud-ai-workspaces-agent"])
          ).trim(),
        ).toBe("active");
        const target = await terminalTarget(server);
        const cookie = await enterTerminal(target, await terminalLink());
        const output = await runInTerminal(
          target,
          cookie,
          'echo "home=$HOME user=$USER login=$LOGNAME id=$(id -un) agent_vars=$(env | grep -c -E "^(AGENT_|BOOTSTRAP_TOKEN|VOLUME_ID)")"; git --no-pager -C /workspace log -1 --format=%s; echo "caw-""done"',
          "caw-done",
        );
        step("terminal answered");
        expect(output).toContain(
          "home=/home/workspace user=workspace login=workspace id=workspace agent_vars=0",
        );
        expect(output).not.toContain("fatal:");

        // The toolchain installs in the background, after the terminal already works.
        await server.machine.exec(
          [
            "sh",
            "-c",
            'while systemctl is-active --quiet cloud-ai-workspaces-toolchain.service && [ "$(systemctl show -p SubState --value cloud-ai-workspaces-toolchain.service)" = start ]; do sleep 1; done',
          ],
          5 * 60_000,
        );
        const toolchain = await server.machine.exec([
          "systemctl",
          "show",
          "--property=ActiveState,Result",
          "cloud-ai-workspaces-toolchain.service",
        ]);
        const toolchainLog = await server.machine
          .exec(["cat", "/var/log/cloud-ai-workspaces-toolchain.log"])
          .catch((error: Error) => error.message);
        expect(toolchain, toolchainLog).toContain("Result=success");
        step("toolchain installed");
        const asWorkspace = (command: string) =>
          server.machine.exec(["runuser", "--login", "workspace", "--command", command]);
        expect(await asWorkspace("node --version")).toMatch(/^v24\./);
        expect(await asWorkspace("devcontainer --version")).toMatch(/^\d+\.\d+\.\d+/);
        expect(await asWorkspace("docker info --format '{{.ServerVersion}}'")).toMatch(/^\d+\./);
        expect(await asWorkspace("sudo -n id -u")).toBe("0\n");
      },
      10 * 60_000,
    );

    it(
      "keeps a session and what runs in it through an agent restart; caw reports its status",
      async () => {
        const server = await currentServer();
        const target = await terminalTarget(server);
        // SPEC §14: `caw` is on PATH as the workspace user and reaches the root agent's socket.
        const first = await runInTerminal(
          target,
          await enterTerminal(target, await terminalLink()),
          'caw status working "on a real OS"; sleep 100000 & echo "bg=$! in=$CAW_SESSION"; echo "caw-""durable"',
          "caw-durable",
          { session: "durable" },
        );
        const pid = /bg=(\d+) in=durable/.exec(first)?.[1];
        expect(pid, first).toBeDefined();
        await waitForSession("durable", (session) => session?.status === "working");
        step("caw status reached the control plane");

        // systemd restarts the unit by killing its whole cgroup: the tmux server is in a scope
        // of its own, so the session and its process live on.
        const beforeRestart = new Date();
        await server.machine.exec(["systemctl", "restart", "cloud-ai-workspaces-agent"]);
        await waitForAgentAfter(beforeRestart);
        const again = await runInTerminal(
          target,
          await enterTerminal(target, await terminalLink()),
          `kill -0 ${pid} && echo "still-""running"`,
          "still-running",
          { session: "durable" },
        );
        step("session re-attached after the agent restart");
        // The replayed scrollback has what the session printed before the restart.
        expect(again).toContain("caw-durable");
        expect(again).toContain(`bg=${pid} in=durable`);
        await waitForSession("durable", (session) => session?.status === "working");
      },
      5 * 60_000,
    );

    it(
      "comes back to running after a reboot, also one that outlasts the heartbeat timeout",
      async () => {
        const server = await currentServer();
        const beforeReboot = new Date();
        await server.machine.reboot();
        await waitForAgentAfter(beforeReboot);
        expect((await engine.readWorkspace(workspaceId)).state).toBe("running");
        step("back to running after a reboot");

        const beforeLongReboot = new Date();
        // While it is down, the control plane's backstop finds it silent and marks it error.
        await server.machine.reboot(async () => {
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          await reconcileStaleWorkspaces(engine.database.db, {
            heartbeatTimeoutSeconds: 1,
            bootTimeoutSeconds: 900,
          });
          expect((await engine.readWorkspace(workspaceId)).state).toBe("error");
        });
        await waitForAgentAfter(beforeLongReboot);
        const row = await engine.waitForState(workspaceId, "running", 5 * 60_000);
        step("back to running after a reboot past the heartbeat timeout");
        expect(row.stateReason ?? "").not.toContain("stopped reporting");
        const target = await terminalTarget(server);
        const output = await runInTerminal(
          target,
          await enterTerminal(target, await terminalLink()),
          'echo "caw-""again"',
          "caw-again",
        );
        expect(output).toContain("caw-again");
      },
      10 * 60_000,
    );
  },
);

/** A terminal link, asked for as a script would: with an API token (links need a caller). */
async function terminalLink(): Promise<string> {
  const response = await fetch(`${engine.web.baseUrl}/api/trpc/terminal.token`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiToken}` },
    body: JSON.stringify({ json: { workspaceId } }),
  });
  const body = (await response.json()) as { result?: { data: { json: { url: string } } } };
  if (!body.result) throw new Error(`terminal.token answered ${response.status}`);
  return body.result.data.json.url;
}

async function terminalTarget(server: BootedServer): Promise<TerminalTarget> {
  const row = await engine.readWorkspace(workspaceId);
  const ca = (engine.cloudflare as { originCaCertificatePem?: string }).originCaCertificatePem;
  return { agentUrl: row.agentUrl!, address: server.address, port: 443, ca };
}

/** Waits until the control plane's record of session `name` satisfies `check`. */
async function waitForSession(
  name: string,
  check: (session: typeof workspaceSessions.$inferSelect | undefined) => boolean,
) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [session] = await engine.database.db
      .select()
      .from(workspaceSessions)
      .where(and(eq(workspaceSessions.workspaceId, workspaceId), eq(workspaceSessions.name, name)));
    if (check(session)) return session;
    if (Date.now() > deadline)
      throw new Error(`session ${name} never matched: ${JSON.stringify(session ?? null)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function waitForAgentAfter(moment: Date) {
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    const row = await engine.readWorkspace(workspaceId);
    if (row.lastHeartbeatAt && row.lastHeartbeatAt > moment && row.state === "running") return;
    if (Date.now() > deadline)
      throw new Error(`the agent did not report in again (state ${row.state})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
