import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLinkHeader } from "../github/github-paging.ts";
import { createRepositories } from "./seed.ts";
import { getApi, signIn, startTestStandIn, type TestStandIn } from "./test-helpers.ts";

// GET /user/repos the way GitHub answers it: `sort` and `direction` in GitHub's order, pages of
// at most 100 with a Link header naming prev/next/last/first, more than 100 repositories, and
// the REST rate limits (headers on every answer, 403/429 past a limit).

let stand: TestStandIn;
let token: string;
const login = "many-repos";
const count = 130;
// Pushed one day apart, in an order unlike their names, so each sort order differs.
const pushedAt = (index: number) =>
  new Date(Date.UTC(2024, 0, 1) + ((index * 37) % count) * 86400_000);

beforeAll(async () => {
  stand = await startTestStandIn();
  token = await signIn(stand.standIn, login);
  await createRepositories(
    stand.standIn.reposDir,
    login,
    Array.from({ length: count }, (_, index) => ({
      name: `repo-${String(index).padStart(3, "0")}`,
      description: `Repository ${index}`,
      pushedAt: pushedAt(index),
    })),
  );
}, 120_000);
afterAll(() => stand?.stop());

type Listed = { full_name: string; pushed_at: string; owner: { login: string } };

async function listPage(query: string) {
  const response = await getApi(stand.standIn, `/user/repos?${query}`, token);
  expect(response.status).toBe(200);
  return {
    names: ((await response.json()) as Listed[])
      .filter((repo) => repo.owner.login === login)
      .map((repo) => repo.full_name),
    links: parseLinkHeader(response.headers.get("link") ?? undefined),
    headers: response.headers,
  };
}

const own = (index: number) => `${login}/repo-${String(index).padStart(3, "0")}`;
const indices = Array.from({ length: count }, (_, index) => index);
const byPushed = [...indices].sort((a, b) => pushedAt(b).getTime() - pushedAt(a).getTime());

describe("GET /user/repos", () => {
  it("sorts by full_name ascending unless told, and by pushed newest first", async () => {
    const byName = await listPage("per_page=100");
    expect(byName.names.slice(0, 3)).toEqual([own(0), own(1), own(2)]);
    const pushed = await listPage("sort=pushed&per_page=100");
    expect(pushed.names.slice(0, 5)).toEqual(byPushed.slice(0, 5).map(own));
    const oldest = await listPage("sort=pushed&direction=asc&per_page=100");
    expect(oldest.names.slice(0, 5)).toEqual([...byPushed].reverse().slice(0, 5).map(own));
    const descending = await listPage("sort=full_name&direction=desc&per_page=100");
    expect(descending.names[0]).toBe(own(count - 1));
  });

  it("refuses a sort GitHub does not know with 422 Validation Failed", async () => {
    const response = await getApi(stand.standIn, "/user/repos?sort=stars", token);
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ message: "Validation Failed" });
  });

  it("pages 100 at most, with next/last, then prev/first links keeping the query", async () => {
    const first = await listPage("sort=pushed&per_page=500");
    expect(first.names).toHaveLength(100);
    expect(Object.keys(first.links)).toEqual(["next", "last"]);
    const next = new URL(first.links.next!);
    expect(Object.fromEntries(next.searchParams)).toEqual({
      sort: "pushed",
      per_page: "100",
      page: "2",
    });
    expect(new URL(first.links.last!).searchParams.get("page")).toBe("2");
    const second = await listPage(`${next.search.slice(1)}`);
    expect(Object.keys(second.links)).toEqual(["prev", "first"]);
    expect([...first.names, ...second.names]).toEqual(byPushed.map(own));

    const middle = await listPage("sort=pushed&per_page=40&page=2");
    expect(Object.keys(middle.links)).toEqual(["prev", "next", "last", "first"]);
    expect(new URL(middle.links.last!).searchParams.get("page")).toBe("4");
  });

  it("sends GitHub's rate limit headers, counting down", async () => {
    const one = (await listPage("per_page=1")).headers;
    const two = (await listPage("per_page=1")).headers;
    expect(one.get("x-ratelimit-limit")).toBe("5000");
    expect(Number(two.get("x-ratelimit-remaining"))).toBe(
      Number(one.get("x-ratelimit-remaining")) - 1,
    );
    expect(two.get("x-ratelimit-resource")).toBe("core");
    expect(Number(two.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);
  });
});

describe("rate limits", () => {
  it("answers 403 with x-ratelimit-remaining 0 past the primary limit, until the reset", async () => {
    stand.standIn.switches.setRateLimitBudget(login, { remaining: 1, resetInSeconds: 120 });
    expect((await getApi(stand.standIn, "/user", token)).status).toBe(200);
    const refused = await getApi(stand.standIn, "/user", token);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    const reset = Number(refused.headers.get("x-ratelimit-reset"));
    expect(reset - Date.now() / 1000).toBeGreaterThan(100);
    expect(await refused.json()).toMatchObject({
      message: expect.stringMatching(/^API rate limit exceeded for user ID \d+\./),
    });
    stand.standIn.switches.setRateLimitBudget(login, { remaining: 0, resetInSeconds: 0 });
    expect((await getApi(stand.standIn, "/user", token)).status).toBe(200);
  });

  it("answers a secondary limit with 429 and retry-after, or 403 with the message only", async () => {
    stand.standIn.switches.addSecondaryRateLimit({ status: 429, retryAfterSeconds: 30 });
    stand.standIn.switches.addSecondaryRateLimit({});
    const first = await getApi(stand.standIn, "/user", token);
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("30");
    const second = await getApi(stand.standIn, "/user", token);
    expect(second.status).toBe(403);
    expect(second.headers.get("retry-after")).toBeNull();
    expect(await second.json()).toMatchObject({
      message: expect.stringContaining("secondary rate limit"),
    });
    expect((await getApi(stand.standIn, "/user", token)).status).toBe(200);
  });
});
