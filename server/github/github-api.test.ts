import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubSettings } from "../env.ts";
import { AppError } from "../errors.ts";
import { githubClient, readRepository, type GitHubAnswers } from "./github-api.ts";

// The one mapping of GitHub's HTTP answers to our AppError, and the one `GET /repos/{o}/{r}`,
// against a real loopback listener answering with whatever status the path asks for.

let server: Server;
let github: GitHubSettings;

beforeAll(async () => {
  server = createServer((req, res) => {
    const status = Number(/^\/repos\/status-(\d{3})\//.exec(req.url ?? "")?.[1] ?? 404);
    res.writeHead(status, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        status === 200
          ? { full_name: "a/b", permissions: { push: false, pull: true } }
          : { message: "Not Found", documentation_url: "https://docs.github.com" },
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  github = { webUrl: url, apiUrl: url, clientId: "id", clientSecret: "secret" };
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const answers: GitHubAnswers = {
  statuses: {
    401: ["UNAUTHORIZED", "Sign out and in again."],
    404: ["NOT_FOUND", "No such repository; pick another."],
  },
  otherwise: "GitHub did not show the repository",
};

const read = (status: number, settings = github) =>
  readRepository(githubClient(settings, "gho_test"), `status-${status}/repo`, answers);

describe("readRepository", () => {
  it("returns the permissions GitHub shows the token", async () => {
    expect(await read(200)).toEqual({ permissions: { push: false, pull: true } });
  });

  it("answers each known status with the caller's error", async () => {
    await expect(read(404)).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: "No such repository; pick another.",
    });
    await expect(read(401)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("makes any other answer, or none, a 503 that says to try again", async () => {
    const error = await read(502).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      message: "GitHub did not show the repository (502). Try again in a moment.",
    });
    const nowhere = { ...github, apiUrl: "http://127.0.0.1:9" };
    await expect(read(200, nowhere)).rejects.toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      message: "GitHub did not show the repository (no answer). Try again in a moment.",
    });
  });
});
