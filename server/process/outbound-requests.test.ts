import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createCloudflareClient } from "../dns/cloudflare.ts";
import { githubClient } from "../github/github-api.ts";
import { createHetznerApi, defaultHetznerTiming } from "../providers/hetzner-api.ts";
import type { OutboundRequestObserver } from "./outbound-requests.ts";

// Each provider client reports every request it sends, with the answer's status, to the
// observer it was given (the programs' metrics). A real HTTP server on loopback answers.

let base: string;
let server: http.Server;
// Per path, the statuses still to answer with (the last one repeats).
const answers = new Map<string, number[]>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const queue = answers.get(path) ?? [404];
    const status = queue.length > 1 ? queue.shift()! : queue[0]!;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        status < 300
          ? { success: true, errors: [], messages: [], result: [], servers: [] }
          : { success: false, errors: [{ code: 9, message: "no" }], messages: [] },
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function recorder() {
  const seen: string[] = [];
  const observe: OutboundRequestObserver = ({ provider, status }) =>
    void seen.push(`${provider} ${status ?? "none"}`);
  return { seen, observe };
}

describe("requests to providers", () => {
  it("Hetzner: every try, retries included", async () => {
    answers.set("/v1/servers", [503, 200]);
    const { seen, observe } = recorder();
    const api = createHetznerApi({
      token: "t",
      apiUrl: `${base}/v1`,
      timing: { ...defaultHetznerTiming, baseDelayMs: 1, maxDelayMs: 1 },
      observe,
    });
    await api.request("GET", "/servers", z.object({ servers: z.array(z.unknown()) }));
    expect(seen).toEqual(["hetzner 503", "hetzner 200"]);
  });

  it("Hetzner: no answer at all", async () => {
    const { seen, observe } = recorder();
    const api = createHetznerApi({
      token: "t",
      apiUrl: "http://127.0.0.1:1/v1",
      timing: { ...defaultHetznerTiming, attempts: 1 },
      observe,
    });
    await expect(api.request("GET", "/servers", z.unknown())).rejects.toThrow();
    expect(seen).toEqual(["hetzner none"]);
  });

  it("Cloudflare: answers and refusals through the SDK", async () => {
    answers.set("/client/v4/zones/z/dns_records", [200]);
    answers.set("/client/v4/zones/refused/dns_records", [403]);
    const { seen, observe } = recorder();
    const client = createCloudflareClient({
      apiToken: "t",
      zoneId: "z",
      apiUrl: `${base}/client/v4`,
      maxRetries: 0,
      observe,
    });
    await client.dns.records.list({ zone_id: "z" });
    await expect(client.dns.records.list({ zone_id: "refused" })).rejects.toThrow();
    expect(seen).toEqual(["cloudflare 200", "cloudflare 403"]);
  });

  it("GitHub: answers and refusals through Octokit", async () => {
    answers.set("/repos/a/b", [200]);
    answers.set("/repos/a/missing", [404]);
    const { seen, observe } = recorder();
    const octokit = githubClient(
      { webUrl: base, apiUrl: base, clientId: "c", clientSecret: "s", observe },
      "token",
    );
    await octokit.request("GET /repos/{owner}/{repo}", { owner: "a", repo: "b" });
    await expect(
      octokit.request("GET /repos/{owner}/{repo}", { owner: "a", repo: "missing" }),
    ).rejects.toThrow();
    expect(seen).toEqual(["github 200", "github 404"]);
  });
});
