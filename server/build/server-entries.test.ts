import { readFile } from "node:fs/promises";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { keepAliveHeader } from "../../protocol/http-keep-alive.ts";
import { findFreePort } from "../process/free-port.ts";
import { projectRoot, startProgram, type RunningProgram } from "../testing/program.ts";
import { testEncryptionKeys } from "../testing/test-context.ts";
import { createTestDatabase } from "../testing/test-database.ts";
import { buildServer, serverOutDir } from "./build-server.ts";

// The compiled programs the container image runs as PID 1 (`node build/server/…`), started
// the same way: node and the bundle, no npm, no tsx. SIGTERM reaches them and they drain.
// The bundles are made here from the current sources, so this never tests stale code.

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

beforeAll(async () => {
  await buildServer();
});

async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // "pid (comm) state ppid …": the name may hold spaces, so count from its closing ")".
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const entry = (program: "web" | "worker") => path.join(serverOutDir, `${program}.js`);

async function waitFor(condition: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("build/server/worker.js", () => {
  let engine: EngineHarness;
  beforeAll(async () => {
    engine = await startEngineHarness();
  });
  afterAll(() => engine?.close());

  function startWorker(extra: Record<string, string> = {}): RunningProgram {
    const { env } = engine.context;
    return startProgram(process.execPath, [entry("worker")], {
      DATABASE_URL: engine.database.url,
      // The harness's keys, which sealed the user's Hetzner token.
      ENCRYPTION_KEYS: env
        .ENCRYPTION_KEYS!.map((key) => `${key.id}:${Buffer.from(key.secret).toString("base64")}`)
        .join(","),
      PUBLIC_URL: engine.web.baseUrl,
      WORKSPACE_PROVIDER: "hetzner",
      HETZNER_API_URL: env.HETZNER_API_URL,
      DNS_PROVIDER: "cloudflare",
      BASE_DOMAIN: env.BASE_DOMAIN!,
      CLOUDFLARE_API_URL: env.CLOUDFLARE_API_URL,
      CLOUDFLARE_API_TOKEN: env.CLOUDFLARE_API_TOKEN!,
      CLOUDFLARE_ZONE_ID: env.CLOUDFLARE_ZONE_ID!,
      AGENT_DIST_DIR: env.AGENT_DIST_DIR!,
      DATA_DIR: env.DATA_DIR,
      LOG_LEVEL: "debug",
      ...extra,
    });
  }

  const serverPosts = () =>
    engine.hetzner.state.requests.filter(
      (request) => request.method === "POST" && request.path === "/v1/servers",
    );
  const jobOf = async (workspaceId: string) => {
    const [job] = await engine.database.sql<{ status: string; attempts: number }[]>`
      select status, attempts from jobs
      where workspace_id = ${workspaceId} and kind = 'workspace.provision'`;
    return job;
  };

  /** A worker whose create-server request is in flight at Hetzner, and its probe URL. */
  async function workerWithCreateInFlight(name: string, extra: Record<string, string> = {}) {
    const before = serverPosts().length;
    const worker = startWorker(extra);
    const ready = await worker.waitForLog("worker ready");
    const probes = `http://127.0.0.1:${ready.port as number}`;
    const { id } = await engine.api.workspaces.create({
      name,
      repository: "stand-in/sample",
      branch: "main",
    });
    await waitFor(() => serverPosts().length > before, "the create request to reach Hetzner").catch(
      (error: Error) => {
        throw new Error(`${error.message}; the worker said:\n${worker.output()}`);
      },
    );
    return { worker, probes, id };
  }

  it("answers its probes, and on SIGTERM turns /readyz 503 and lets the running job finish", async () => {
    engine.hetzner.faults.add({ kind: "slow", delayMs: 3_000, method: "POST", path: "/v1/servers" });
    const { worker, probes, id } = await workerWithCreateInFlight("finishes");
    expect((await fetch(`${probes}/healthz`)).status).toBe(200);
    expect((await fetch(`${probes}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${probes}/metrics`)).text();
    // The firewall's and the image's look-ups went before the create: counted by status.
    expect(metrics).toMatch(/^caw_provider_requests_total\{provider="hetzner",status="200"\} \d+$/m);
    worker.child.kill("SIGTERM");
    await worker.waitForLog("shutting down");
    const draining = await fetch(`${probes}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({ ready: false, draining: true });
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('"msg":"job succeeded"');
    expect(worker.output()).toContain('"msg":"worker stopped"');
    expect(await jobOf(id)).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("hands a job back that outlasts WORKER_DRAIN_GRACE_SECONDS, then exits 0", async () => {
    // With the default grace (15 s) this request would finish and the job succeed.
    engine.hetzner.faults.add({ kind: "slow", delayMs: 8_000, method: "POST", path: "/v1/servers" });
    const { worker, id } = await workerWithCreateInFlight("handed-back", {
      WORKER_DRAIN_GRACE_SECONDS: "1",
    });
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('"msg":"job released for another worker"');
    expect(worker.output()).toContain('"msg":"worker stopped"');
    // Handed back, its attempt not counted: the next worker starts it afresh.
    expect(await jobOf(id)).toMatchObject({ status: "queued", attempts: 0 });
  });
});

describe("a worker whose probe port is taken", () => {
  it("stops at once, saying which setting to change", async () => {
    const database = await createTestDatabase();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const worker = startProgram(process.execPath, [entry("worker")], {
        DATABASE_URL: database.url,
        ENCRYPTION_KEYS: testEncryptionKeys(),
        WORKER_PORT: String((taken.address() as AddressInfo).port),
      });
      expect(await worker.exited).toEqual({ code: 1, signal: null });
      expect(worker.output()).toContain("(EADDRINUSE): set WORKER_PORT to a free port");
      expect(worker.output()).not.toContain('"msg":"job runner started"');
    } finally {
      taken.close();
      await database.drop();
    }
  });
});

describe("npm run worker", () => {
  it("is the worker program itself: SIGTERM to npm reaches it, it drains and nothing is left", async () => {
    const database = await createTestDatabase();
    try {
      const npm = startProgram("npm", ["run", "--silent", "worker"], {
        DATABASE_URL: database.url,
        ENCRYPTION_KEYS: testEncryptionKeys(),
      });
      const ready = await npm.waitForLog("worker ready");
      // npm's shell execs node: the program is npm's child, not a grandchild behind sh.
      expect(await parentOf(ready.pid as number)).toBe(npm.child.pid);
      npm.child.kill("SIGTERM");
      expect(await npm.exited).toEqual({ code: 0, signal: null });
      expect(npm.output()).toContain('"msg":"worker stopped"');
      expect(isRunning(ready.pid as number)).toBe(false);
    } finally {
      await database.drop();
    }
  });
});

describe("build/server/web.js", () => {
  it("on SIGTERM answers /readyz 503 while it serves on through WEB_DRAIN_GRACE_SECONDS, then exits 0", async () => {
    const database = await createTestDatabase();
    try {
      const port = await findFreePort();
      const base = `http://127.0.0.1:${port}`;
      const web = startProgram(process.execPath, [entry("web")], {
        DATABASE_URL: database.url,
        ENCRYPTION_KEYS: testEncryptionKeys(),
        GITHUB_CLIENT_ID: "web-entry-test",
        GITHUB_CLIENT_SECRET: "web-entry-test-secret",
        WORKSPACE_PROVIDER: "hetzner",
        PORT: String(port),
        DATA_DIR: path.join(projectRoot, ".data", "web-entry-test"),
        // Long enough to look around in; the test waits for the 503, not for the clock.
        WEB_DRAIN_GRACE_SECONDS: "10",
      });
      await web.waitForLog("web server listening");
      const before = await fetch(`${base}/readyz`);
      expect(before.status).toBe(200);
      expect(before.headers.get("keep-alive")).toBe(keepAliveHeader);
      web.child.kill("SIGTERM");
      await web.waitForLog("draining: /readyz answers 503");
      const readiness = await fetch(`${base}/readyz`);
      expect(readiness.status).toBe(503);
      expect(await readiness.json()).toMatchObject({ ready: false, draining: true });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const info = await fetch(`${base}/api/trpc/system.info`);
      expect(info.status).toBe(200);
      // Each answer while draining closes its connection: none is left idle to be cut.
      expect(info.headers.get("connection")).toBe("close");
      expect(info.headers.get("keep-alive")).toBeNull();
      expect(web.output()).not.toContain('"msg":"web server stopped"');
      expect(await web.exited).toEqual({ code: 0, signal: null });
      expect(web.output()).toContain('"msg":"web server stopped"');
    } finally {
      await database.drop();
    }
  });
});
