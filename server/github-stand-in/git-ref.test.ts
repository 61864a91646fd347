import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repositoryPath } from "./repos.ts";
import { runGit } from "./run-git.ts";
import { sampleRepository } from "./seed.ts";
import { getApi, signIn, startTestStandIn, type TestStandIn } from "./test-helpers.ts";

// GET /repos/{owner}/{repo}/git/ref/{ref}, which workspace creation asks to confirm a branch,
// checked against GitHub's own OpenAPI description (GitHub Enterprise Server 3.19).

type Schema = {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  minLength?: number;
};
type OpenApi = {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, Schema> };
};

let stand: TestStandIn;
let token: string;
let spec: OpenApi;
const refPath = "/repos/{owner}/{repo}/git/ref/{ref}";

beforeAll(async () => {
  stand = await startTestStandIn();
  token = await signIn(stand.standIn, "ref-reader");
  const file = createRequire(import.meta.url).resolve("@octokit/openapi/generated/ghes-3.19.json");
  spec = JSON.parse(await readFile(file, "utf8")) as OpenApi;
  // A branch whose name has a slash, as feature branches do.
  const gitDir = repositoryPath(path.join(stand.dataDir, "github", "repos"), sampleRepository);
  await runGit([`--git-dir=${gitDir}`, "branch", "feature/x", "main"]);
});
afterAll(() => stand.stop());

/** The problems of `value` against `schema` (types, required fields, nested objects). */
function violations(value: unknown, schema: Schema, at = "$"): string[] {
  if (schema.type === "object") {
    if (typeof value !== "object" || value === null) return [`${at} is not an object`];
    const record = value as Record<string, unknown>;
    const missing = (schema.required ?? []).filter((key) => !(key in record));
    return [
      ...missing.map((key) => `${at}.${key} is missing`),
      ...Object.entries(schema.properties ?? {}).flatMap(([key, child]) =>
        key in record ? violations(record[key], child, `${at}.${key}`) : [],
      ),
    ];
  }
  if (schema.type === "string") {
    if (typeof value !== "string") return [`${at} is not a string`];
    return value.length < (schema.minLength ?? 0) ? [`${at} is too short`] : [];
  }
  return [];
}

const sample = `/repos/${sampleRepository.owner}/${sampleRepository.name}`;

describe("GET /repos/{owner}/{repo}/git/ref/{ref}", () => {
  it("is an operation of GitHub's API with the 200 and 404 the control plane relies on", () => {
    expect(Object.keys(spec.paths[refPath]?.get?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "404"]),
    );
  });

  it("answers a branch in GitHub's git-ref shape", async () => {
    const response = await getApi(stand.standIn, `${sample}/git/ref/heads%2Fmain`, token);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { ref: string; object: { sha: string } };
    expect(violations(body, spec.components.schemas["git-ref"]!)).toEqual([]);
    expect(body.ref).toBe("refs/heads/main");
    expect(body.object.sha).toMatch(/^[0-9a-f]{40}$/);
  });

  it("finds a branch with a slash, encoded as Octokit sends it or not", async () => {
    for (const ref of ["heads%2Ffeature%2Fx", "heads/feature/x"]) {
      const response = await getApi(stand.standIn, `${sample}/git/ref/${ref}`, token);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ ref: "refs/heads/feature/x" });
    }
  });

  it("is 404 for a missing branch, a missing repository, a bad escape and a tag", async () => {
    for (const pathname of [
      `${sample}/git/ref/heads%2Fnope`,
      "/repos/nobody/nothing/git/ref/heads%2Fmain",
      `${sample}/git/ref/heads%2F%E0%A4`,
      `${sample}/git/ref/tags%2Fmain`,
    ]) {
      const response = await getApi(stand.standIn, pathname, token);
      expect(response.status, pathname).toBe(404);
    }
  });
});
