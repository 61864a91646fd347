import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubSettings } from "../env.ts";
import { githubClient } from "../github/github-api.ts";
import { createAppClient, findInstallation, mintInstallationToken } from "../github/github-app.ts";
import { checkRepositoryAccess, listGitHubRepositories } from "../services/github-repositories.ts";
import { upsertGitHubUser } from "../services/users.ts";
import { createLogger } from "../logger.ts";
import {
  createContractChecker,
  jsonSchemaOf,
  loadOpenApiDocument,
  strict,
  zodOf,
  type Exchange,
  type JsonSchema,
} from "../testing/openapi-contract.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startRecordingProxy, type RecordingProxy } from "./recording-proxy.ts";
import { repositoryPath } from "./repos.ts";
import { runGit } from "./run-git.ts";
import { createRepositories } from "./seed.ts";
import { authorize, exchangeCode, startTestStandIn, type TestStandIn } from "./test-helpers.ts";

// Every request our GitHub client sends and every answer the stand-in gives it, checked
// against GitHub's own description (@octokit/openapi, api.github.com, dereferenced): the
// operation exists, each query parameter is described and in range, each body matches, the
// status is one the operation documents, and the answer has no field the description lacks
// and no field of the wrong type. Of the fields GitHub marks required, the test insists on
// those our client reads (listed below); the stand-in leaves out the dozens of *_url fields
// no caller of ours reads. The exchanges are our real code's: the repo picker (every page),
// the create check, the App's installation token, sign-in's profile, and the failures.

const readFields: Record<string, string[]> = {
  "GET /user 200": ["id", "login", "name", "avatar_url"],
  "GET /user/emails 200": ["[].email", "[].primary", "[].verified"],
  "GET /user/repos 200": [
    "[].full_name",
    "[].default_branch",
    "[].private",
    "[].description",
    "[].pushed_at",
  ],
  "GET /repos/{owner}/{repo} 200": ["default_branch", "permissions.push", "permissions.pull"],
  "GET /repos/{owner}/{repo}/branches 200": ["[].name"],
  "GET /repos/{owner}/{repo}/installation 200": ["id"],
  "POST /app/installations/{installation_id}/access_tokens 201": ["token", "expires_at"],
  "GET /app 200": ["slug"],
};
const errorFields = ["message"];

let database: TestDatabase;
let stand: TestStandIn;
let proxy: RecordingProxy;
let github: GitHubSettings;
let checker: ReturnType<typeof createContractChecker>;
let document: Awaited<ReturnType<typeof loadOpenApiDocument>>;

beforeAll(async () => {
  [database, stand, document] = await Promise.all([
    createTestDatabase(),
    startTestStandIn({ app: {} }),
    loadOpenApiDocument(
      "@octokit/openapi/generated/api.github.com.deref.json",
      "run npm ci (it is a devDependency, ADR 0018)",
    ),
  ]);
  checker = createContractChecker({ document, basePath: "/api/v3" });
  proxy = await startRecordingProxy(stand.standIn.url);
  github = {
    webUrl: stand.standIn.url,
    apiUrl: `${proxy.url}/api/v3`,
    clientId: stand.standIn.clientId,
    clientSecret: stand.standIn.clientSecret,
    app: { id: String(stand.standIn.app!.id), privateKey: stand.appPrivateKey! },
  };
  await createRepositories(
    stand.standIn.reposDir,
    "contract",
    Array.from({ length: 105 }, (_, index) => ({
      name: `r-${index}`,
      description: `Repository ${index}`,
      pushedAt: new Date(Date.UTC(2025, 0, 1) + index * 60_000),
    })),
  );
  await addBranches(
    repositoryPath(stand.standIn.reposDir, { owner: "contract", name: "r-3" }),
    105,
  );
  await runGit([
    "init",
    "--quiet",
    "--bare",
    repositoryPath(stand.standIn.reposDir, { owner: "contract", name: "empty" }),
  ]);
}, 120_000);

/** `count` more branches (feature-0 …) at main's commit, in one git process. */
async function addBranches(gitDir: string, count: number): Promise<void> {
  const sha = (await runGit([`--git-dir=${gitDir}`, "rev-parse", "main"])).trim();
  const commands = Array.from(
    { length: count },
    (_, index) => `create refs/heads/feature-${index} ${sha}\n`,
  );
  await runGit([`--git-dir=${gitDir}`, "update-ref", "--stdin"], { input: commands.join("") });
}
afterAll(async () => {
  await proxy?.close();
  await stand?.stop();
  await database?.drop();
});

/** Every value at a dotted path (`[]` walks an array), or a mismatch saying it is missing. */
function missingFields(value: unknown, path: string[], where: string): string[] {
  const [step, ...rest] = path;
  if (step === undefined) return value === undefined ? [`${where}: missing`] : [];
  if (step === "[]")
    return Array.isArray(value)
      ? value.flatMap((item, index) => missingFields(item, rest, `${where}[${index}]`))
      : [`${where}: not an array`];
  const child = (value as Record<string, unknown> | null)?.[step];
  return missingFields(child, rest, `${where}.${step}`);
}

/**
 * `required` dropped everywhere: which fields must be there is `readFields`' business. A
 * `oneOf` becomes `anyOf`, since without required fields its options (GET /user's private and
 * public user) no longer exclude each other.
 */
function withoutRequired(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutRequired);
  if (typeof schema !== "object" || schema === null) return schema;
  const entries = Object.entries(schema)
    .filter(([key]) => key !== "required")
    .map(([key, value]) => [key === "oneOf" ? "anyOf" : key, value])
    .map(([key, value]) => [
      key,
      key === "enum" || key === "example" ? value : withoutRequired(value),
    ]);
  return Object.fromEntries(entries);
}

function checkGitHubExchange(exchange: Exchange): string[] {
  const found = checker.operationOf(exchange.method, exchange.path);
  if (!found) return [`${exchange.method} ${exchange.path}: no such operation in the description`];
  const name = `${found.name} ${exchange.status}`;
  checker.seen.add(name);
  const problems: string[] = [];
  const parameters = new Map(
    (found.operation.parameters ?? []).filter((p) => p.in === "query").map((p) => [p.name, p]),
  );
  for (const [key, value] of new URLSearchParams(exchange.query ?? "")) {
    const schema = parameters.get(key)?.schema;
    if (!schema) problems.push(`${found.name}: query parameter ${key} is not described`);
    else {
      const typed = schema.type === "integer" ? Number(value) : value;
      problems.push(...checker.validate(schema, typed, `${found.name} ?${key}`));
    }
  }
  const bodySchema = jsonSchemaOf(found.operation.requestBody?.content);
  if (bodySchema)
    problems.push(...checker.validate(strict(bodySchema), exchange.body, `${found.name} body`));
  const answer = found.operation.responses[String(exchange.status)];
  if (!answer) return [...problems, `${name}: the description has no such answer`];
  const schema = jsonSchemaOf(answer.content);
  if (schema)
    problems.push(
      ...checker.validate(withoutRequired(strict(schema)) as JsonSchema, exchange.response, name),
    );
  const fields = (exchange.status as number) < 300 ? (readFields[name] ?? []) : errorFields;
  for (const field of fields) {
    problems.push(...checker.validate({}, null, `${name} ${field}`)); // counts the check
    problems.push(...missingFields(exchange.response, field.split("."), `${name} ${field}`));
  }
  return problems;
}

async function userWithToken(login: string) {
  const code = await authorize(stand.standIn, { login });
  const token = (await exchangeCode(stand.standIn, { code })).access_token!;
  const context = await createTestLoadContext(database);
  const user = await upsertGitHubUser(database.db, context.keyring, {
    profile: { id: 4242, login, name: null, email: null, avatarUrl: null },
    accessToken: token,
    adminLogins: [],
  });
  return { user, token, keyring: context.keyring };
}

describe("our GitHub client and the stand-in against GitHub's OpenAPI description", () => {
  it("has zero mismatches for every exchange our code makes, answers and failures alike", async () => {
    const logger = createLogger({ level: "silent", service: "contract" });
    const { user, token, keyring } = await userWithToken("contract");
    const owner = { userId: user.id, auditSubject: `user:${user.id}` };
    const repos = await listGitHubRepositories(database.db, keyring, owner, github, logger);
    expect(repos.length).toBeGreaterThan(100);
    const client = githubClient(github, token);
    await Promise.all([client.request("GET /user"), client.request("GET /user/emails")]);
    const target = { repository: "contract/r-1", branch: "main" };
    await checkRepositoryAccess(database.db, keyring, github, owner, target, logger);
    const refused = [
      { repository: "contract/missing", branch: "main" },
      { repository: "contract/r-2", branch: "missing" },
      // 105 branches: the close matches are looked for on both pages.
      { repository: "contract/r-3", branch: "feature-1o4" },
    ];
    for (const other of refused)
      await expect(
        checkRepositoryAccess(database.db, keyring, github, owner, other, logger),
      ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      checkRepositoryAccess(database.db, keyring, github, owner, refused[2]!, logger),
    ).rejects.toThrow(/Pick one of: feature-104, feature-14, /);
    const empty = { repository: "contract/empty", branch: "main" };
    await expect(
      checkRepositoryAccess(database.db, keyring, github, owner, empty, logger),
    ).rejects.toMatchObject({ code: "PRECONDITION_FAILED", field: "branch" });

    const app = await createAppClient(github);
    const installation = await findInstallation(github, app, "contract/r-1");
    await mintInstallationToken(github, app, installation, "contract/r-1", "write");
    await expect(
      mintInstallationToken(github, app, installation, "contract/missing", "write"),
    ).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    stand.standIn.switches.setAppInstalled("contract", false);
    await expect(findInstallation(github, app, "contract/r-1")).rejects.toThrow(/not installed/);
    stand.standIn.switches.setAppInstalled("contract", true);

    stand.standIn.switches.addSecondaryRateLimit({ status: 403 });
    await expect(
      listGitHubRepositories(database.db, keyring, owner, github, logger),
    ).rejects.toMatchObject({
      code: "TOO_MANY_REQUESTS",
    });
    stand.standIn.switches.setRateLimitBudget("contract", { remaining: 0, resetInSeconds: 900 });
    await expect(client.request("GET /user")).rejects.toMatchObject({ code: "TOO_MANY_REQUESTS" });
    stand.standIn.switches.setRateLimitBudget("contract", { remaining: 50, resetInSeconds: 900 });
    await expect(githubClient(github, "gho_bad").request("GET /user/repos")).rejects.toMatchObject({
      status: 401,
    });

    const mismatches = proxy.exchanges.flatMap((exchange) => checkGitHubExchange(exchange));
    process.stdout.write(
      `GitHub contract: ${checker.checks} checks over ${proxy.exchanges.length} exchanges (${[...checker.seen].sort().join("; ")}), ${mismatches.length} mismatches\n`,
    );
    expect(mismatches).toEqual([]);
    expect([...checker.seen]).toEqual(
      expect.arrayContaining([
        ...Object.keys(readFields),
        "GET /user/repos 403",
        "GET /user/repos 401",
        "GET /user 403",
        "GET /repos/{owner}/{repo} 404",
        "GET /repos/{owner}/{repo}/git/ref/{ref} 200",
        "GET /repos/{owner}/{repo}/git/ref/{ref} 404",
        "GET /repos/{owner}/{repo}/git/ref/{ref} 409",
        "GET /repos/{owner}/{repo}/installation 404",
        "POST /app/installations/{installation_id}/access_tokens 422",
      ]),
    );
    // Two pages of the picker, the second reached through the Link header.
    const pages = proxy.exchanges.filter(
      (e) => e.path === "/api/v3/user/repos" && e.status === 200,
    );
    expect(pages.map((e) => new URLSearchParams(e.query).get("page"))).toEqual([null, "2"]);
    const branchPages = proxy.exchanges.filter(
      (e) => e.path === "/api/v3/repos/contract/r-3/branches",
    );
    expect(branchPages.map((e) => new URLSearchParams(e.query).get("page"))).toEqual([
      null,
      "2",
      null,
      "2",
    ]);
  });

  it("catches a drift: an invented field, a wrong type, a missing read field, a bad query", () => {
    const drift = (response: unknown, query = ""): Exchange => ({
      method: "GET",
      path: "/api/v3/user/repos",
      query,
      status: 200,
      response,
    });
    const good = {
      full_name: "a/b",
      default_branch: "main",
      private: false,
      description: null,
      pushed_at: "2024-01-01T00:00:00Z",
    };
    expect(checkGitHubExchange(drift([good]))).toEqual([]);
    expect(checkGitHubExchange(drift([{ ...good, pushed: "x" }]))).not.toEqual([]);
    expect(checkGitHubExchange(drift([{ ...good, private: "no" }]))).not.toEqual([]);
    const { default_branch: _dropped, ...missing } = good;
    expect(checkGitHubExchange(drift([missing]))).not.toEqual([]);
    expect(checkGitHubExchange(drift([good], "sort=stars"))).not.toEqual([]);
    expect(checkGitHubExchange(drift([good], "order=asc"))).not.toEqual([]);
    expect(zodOf({ type: "string" }).safeParse(1).success).toBe(false);
  });
});
