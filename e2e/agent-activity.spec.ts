import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { waitForWorkspace } from "../sdk/index.ts";
import { startApp, type RunningApp } from "./support/app.ts";
import { signUpOverHttp, type WorkspaceApi } from "./support/workspace-api.ts";

// SPEC §14 acceptance, in the one-machine mode with the built agent and real tmux: a stand-in
// "AI agent" (a shell loop) in a session reports `working` through `caw status` and prints output
// with no input for three idle timeouts: the workspace keeps running. After `caw status done` it
// stops once the timeout passes, and a webhook receiver on loopback, checking every signature,
// gets "done" and then "stopped".

const idleSeconds = 8;
const workingSeconds = 3 * idleSeconds;
const session = "claude";

type Delivery = { event: string; delivery: string; body: { kind: string; message: string } };
let app: RunningApp;
let api: WorkspaceApi;
let workspaceId: string | undefined;
let receiver: Server;
let webhookSecret = "";
const deliveries: Delivery[] = [];
const badSignatures: string[] = [];

/** The user's webhook: records each delivery whose x-caw-signature is the body's HMAC. */
function startReceiver(): Promise<string> {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const expected = `sha256=${createHmac("sha256", webhookSecret).update(raw).digest("hex")}`;
      const signature = Buffer.from(String(req.headers["x-caw-signature"] ?? ""));
      if (
        signature.length !== expected.length ||
        !timingSafeEqual(signature, Buffer.from(expected))
      )
        badSignatures.push(raw.toString("utf8"));
      else
        deliveries.push({
          event: String(req.headers["x-caw-event"]),
          delivery: String(req.headers["x-caw-delivery"]),
          body: JSON.parse(raw.toString("utf8")) as Delivery["body"],
        });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    receiver.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/caw`),
    ),
  );
}

/** Polls `check` each second until it answers something, or fails after `timeoutMs`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

const delivered = (event: string) =>
  Promise.resolve(deliveries.find((delivery) => delivery.event === event));

beforeAll(async () => {
  const webhookUrl = await startReceiver();
  app = await startApp({ LOCAL_AGENT_IDLE_TIMEOUT_SECONDS: String(idleSeconds) });
  api = await signUpOverHttp(app.baseUrl, "agent-activity");
  const webhook = await api.notifications.webhook.set.mutate({ url: webhookUrl });
  webhookSecret = webhook.secret;
});
afterAll(async () => {
  if (api && workspaceId) {
    await api.workspaces.delete.mutate({ id: workspaceId }).catch(() => {});
    await waitForWorkspace(api, workspaceId, "deleted", { timeoutMs: 60_000 }).catch(() => {});
  }
  await app?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe("an AI agent that reports working", () => {
  it("keeps its workspace running past the idle timeout; done lets it stop, and the webhook hears both", async () => {
    const created = await api.workspaces.create.mutate({
      name: "agent-activity",
      repository: `${sampleRepository.owner}/${sampleRepository.name}`,
      branch: "main",
    });
    const id = created.id;
    workspaceId = id;
    await waitForWorkspace(api, id, "running", { timeoutMs: 80_000 });
    await api.sessions.create.mutate({ workspaceId: id, name: session });
    // The only input: the command that starts the stand-in agent. From here on it only prints.
    const script = [
      `caw status working "stand-in agent at work"`,
      `for i in $(seq 1 ${workingSeconds}); do echo "tick $i"; sleep 1; done`,
      `caw status done "stand-in agent finished"`,
    ].join("; ");
    await api.sessions.input.mutate({ workspaceId: id, name: session, text: script, enter: true });

    // While it works, every look finds the workspace running, for three idle timeouts.
    const statuses = new Set<string | null>();
    await waitFor("the done webhook", async () => {
      const [workspace, sessions] = await Promise.all([
        api.workspaces.get.query({ id }),
        api.sessions.list.query({ workspaceId: id }),
      ]);
      expect(workspace.state).toBe("running");
      statuses.add(sessions.find((one) => one.name === session)?.status ?? null);
      return delivered("done");
    });
    expect(statuses).toContain("working");
    const output = await api.sessions.output.query({ workspaceId: id, name: session, lines: 50 });
    expect(output.text).toContain(`tick ${workingSeconds}`);
    expect((await delivered("done"))!.body).toMatchObject({
      kind: "done",
      message: `${session} in agent-activity is done: stand-in agent finished`,
    });

    // Done is no activity: the idle timeout runs out and the agent stops the workspace.
    await waitForWorkspace(api, id, "stopped", { timeoutMs: 90_000 });
    const stopping = (await api.workspaces.events.query({ id })).find(
      (event) => event.toState === "stopping",
    );
    expect(stopping).toMatchObject({
      actor: "agent",
      reason: expect.stringMatching(/^Stopped: idle for /),
    });
    const stopped = await waitFor("the stopped webhook", () => delivered("stopped"));
    expect(stopped.body.message).toMatch(/^agent-activity stopped \(idle for .+\)/);
    expect(Number(stopped.delivery)).toBeGreaterThan(Number((await delivered("done"))!.delivery));
    expect(badSignatures).toEqual([]);
  });
});
