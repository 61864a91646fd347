import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, retryAfterOf } from "../errors.ts";
import type { GitHubSettings } from "../env.ts";
import { signIn, startTestStandIn, type TestStandIn } from "../github-stand-in/test-helpers.ts";
import { githubClient } from "./github-api.ts";
import { readRateLimit } from "./github-rate-limit.ts";

// Our GitHub client against the stand-in's rate limits: a short limit is waited out as long as
// GitHub asks (then the request succeeds), a long one fails at once with when to try again,
// and a 403 that is no rate limit is never retried.

let stand: TestStandIn;
let token: string;
let github: GitHubSettings;
const login = "rate-limited";

beforeAll(async () => {
  stand = await startTestStandIn();
  token = await signIn(stand.standIn, login);
  github = {
    webUrl: stand.standIn.url,
    apiUrl: stand.standIn.apiUrl,
    clientId: stand.standIn.clientId,
    clientSecret: stand.standIn.clientSecret,
  };
});
afterAll(() => stand?.stop());

function capture() {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  return { logger, text: () => lines.join("") };
}

const getUser = (client: ReturnType<typeof githubClient>) =>
  client.request("GET /user").then((answer) => answer.data.login);

describe("our GitHub client under GitHub's rate limits", () => {
  it("waits out a secondary limit's retry-after, logs the wait without the token, then succeeds", async () => {
    const log = capture();
    stand.standIn.switches.addSecondaryRateLimit({ status: 429, retryAfterSeconds: 1 });
    expect(await getUser(githubClient(github, token, { logger: log.logger }))).toBe(login);
    const line = JSON.parse(log.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ status: 429, kind: "secondary", waitMs: 1000, path: "/user" });
    expect(log.text()).not.toContain(token);
  });

  it("waits until a used-up primary limit resets when that is soon", async () => {
    const log = capture();
    stand.standIn.switches.setRateLimitBudget(login, { remaining: 0, resetInSeconds: 1 });
    expect(await getUser(githubClient(github, token, { logger: log.logger }))).toBe(login);
    expect(log.text()).toContain('"kind":"primary"');
  });

  it("fails at once with when to try again when the primary limit resets later", async () => {
    stand.standIn.switches.setRateLimitBudget(login, {
      remaining: 0,
      resetInSeconds: 600,
      status: 429,
    });
    const log = capture();
    const error: unknown = await getUser(githubClient(github, token, { logger: log.logger })).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      code: "TOO_MANY_REQUESTS",
      message: expect.stringMatching(/hourly API limit .* resets in 10 min\. Try again then\./),
    });
    expect(retryAfterOf(error)).toBeGreaterThan(590);
    expect(log.text()).toBe(""); // not waited, not retried
    stand.standIn.switches.setRateLimitBudget(login, { remaining: 100, resetInSeconds: 600 });
  });

  it("fails a secondary limit without retry-after at once (GitHub asks for a minute at least)", async () => {
    stand.standIn.switches.addSecondaryRateLimit({ status: 403 });
    await expect(getUser(githubClient(github, token))).rejects.toMatchObject({
      code: "TOO_MANY_REQUESTS",
      message: expect.stringContaining("secondary rate limit) for 60 s"),
    });
  });

  it("stops waiting when the caller aborts", async () => {
    stand.standIn.switches.addSecondaryRateLimit({ retryAfterSeconds: 5 });
    const controller = new AbortController();
    const pending = getUser(githubClient(github, token, { signal: controller.signal }));
    setTimeout(() => controller.abort(new Error("the caller gave up")), 50);
    await expect(pending).rejects.toThrow("the caller gave up");
  });
});

describe("readRateLimit", () => {
  const failure = (status: number, headers: Record<string, string>, message = "Forbidden") => ({
    status,
    message,
    response: { headers, data: { message } },
  });

  it("takes a 403 without rate limit signs for a refusal, never a limit", () => {
    expect(readRateLimit(failure(403, { "x-ratelimit-remaining": "4999" }))).toBeUndefined();
    expect(readRateLimit(failure(404, { "retry-after": "5" }))).toBeUndefined();
  });

  it("prefers retry-after, then the reset of a used-up primary limit", () => {
    const now = 1_700_000_000_000;
    expect(
      readRateLimit(
        failure(403, {
          "retry-after": "7",
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": "1",
        }),
        now,
      ),
    ).toMatchObject({ kind: "secondary", waitMs: 7000 });
    expect(
      readRateLimit(
        failure(429, {
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(now / 1000 + 30),
        }),
        now,
      ),
    ).toMatchObject({ kind: "primary", waitMs: 30_000 });
  });
});
