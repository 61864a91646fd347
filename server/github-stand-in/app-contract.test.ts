import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAppJwt, installationTokenRequest } from "../github/github-app.ts";
import { startTestStandIn, type TestStandIn } from "./test-helpers.ts";

// A fake is only as good as its contract: the stand-in's GitHub App endpoints, and the
// request the control plane sends them, checked against GitHub's official OpenAPI description
// (@octokit/openapi, api.github.com, dereferenced) with zod's JSON Schema reader. The OAuth
// token endpoint is not in the REST description; its shape is checked in app-api.test.ts
// against the documented fields ("Generating a user access token for a GitHub App").

type Operation = {
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
};
type Spec = { paths: Record<string, Record<string, Operation>> };

let spec: Spec;
let stand: TestStandIn;
let jwt: string;

beforeAll(async () => {
  const file = createRequire(import.meta.url).resolve(
    "@octokit/openapi/generated/api.github.com.deref.json",
  );
  spec = JSON.parse(await readFile(file, "utf8")) as Spec;
  stand = await startTestStandIn({ app: {} });
  jwt = await createAppJwt({ id: String(stand.standIn.app!.id), privateKey: stand.appPrivateKey! });
});
afterAll(() => stand?.stop());

function schemaOf(path: string, method: string, status: string | "request") {
  const operation = spec.paths[path]?.[method];
  if (!operation) throw new Error(`GitHub's description has no ${method} ${path}`);
  const content =
    status === "request" ? operation.requestBody?.content : operation.responses[status]?.content;
  const schema = content?.["application/json"]?.schema;
  if (!schema) throw new Error(`no JSON schema for ${method} ${path} ${status}`);
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0], {
    defaultTarget: "openapi-3.0",
  });
}

/** Fails with every mismatch listed, so a drift is easy to read. */
function expectConforms(schema: z.ZodType, value: unknown) {
  const result = schema.safeParse(value);
  const issues = result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  expect(issues).toEqual([]);
}

const call = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(`${stand.standIn.apiUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
  });
  return { status: response.status, body: (await response.json()) as unknown };
};

describe("the stand-in's App endpoints match GitHub's OpenAPI description", () => {
  it("GET /app (apps/get-authenticated)", async () => {
    const { status, body } = await call("/app");
    expect(status).toBe(200);
    expectConforms(schemaOf("/app", "get", "200"), body);
  });

  it("GET /repos/{owner}/{repo}/installation (apps/get-repo-installation), found and not", async () => {
    const found = await call("/repos/stand-in/sample/installation");
    expect(found.status).toBe(200);
    expectConforms(schemaOf("/repos/{owner}/{repo}/installation", "get", "200"), found.body);
    const missing = await call("/repos/stand-in/missing/installation");
    expect(missing.status).toBe(404);
    expectConforms(schemaOf("/repos/{owner}/{repo}/installation", "get", "404"), missing.body);
  });

  it("POST /app/installations/{id}/access_tokens (apps/create-installation-access-token)", async () => {
    const path = "/app/installations/{installation_id}/access_tokens";
    const request = installationTokenRequest("sample", "write");
    // What the control plane sends is what GitHub takes.
    expectConforms(schemaOf(path, "post", "request"), request);
    const { body: installation } = await call("/repos/stand-in/sample/installation");
    const { id } = installation as { id: number };
    const minted = await call(`/app/installations/${id}/access_tokens`, {
      method: "POST",
      body: JSON.stringify(request),
    });
    expect(minted.status).toBe(201);
    expectConforms(schemaOf(path, "post", "201"), minted.body);
    const refused = await call(`/app/installations/${id}/access_tokens`, {
      method: "POST",
      body: JSON.stringify(installationTokenRequest("missing", "write")),
    });
    expect(refused.status).toBe(422);
    expectConforms(schemaOf(path, "post", "422"), refused.body);
  });

  it("the contract check itself catches a wrong shape", () => {
    const schema = schemaOf("/app/installations/{installation_id}/access_tokens", "post", "201");
    expect(schema.safeParse({ token: "ghs_x" }).success).toBe(false);
    expect(
      schema.safeParse({
        token: "ghs_x",
        expires_at: "2024-01-01T00:00:00Z",
        permissions: { contents: "all" },
      }).success,
    ).toBe(false);
  });
});
