import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { GitHubSettings } from "../env.ts";
import { createRepository } from "../github-stand-in/seed.ts";
import { startTestStandIn, type TestStandIn } from "../github-stand-in/test-helpers.ts";
import { forgetInstallationTokens, obtainInstallationToken } from "./installation-tokens.ts";

// Installation tokens are reused while they live (counted where they are minted: at the
// stand-in playing the App), never once GitHub stopped taking them, and never within five
// minutes of their expiry.

let stand: TestStandIn;
let shortLived: TestStandIn;

beforeAll(async () => {
  [stand, shortLived] = await Promise.all([
    startTestStandIn({ app: {} }),
    // GitHub's tokens last an hour; these last exactly the reuse margin.
    startTestStandIn({ app: { installationTokenLifetimeSeconds: 300 } }),
  ]);
  await createRepository(
    path.join(stand.dataDir, "github", "repos"),
    { owner: "stand-in", name: "other" },
    { description: "Another project", commitSubject: "Other" },
  );
});
afterAll(async () => {
  await stand?.stop();
  await shortLived?.stop();
});
afterEach(() => forgetInstallationTokens());

const settingsOf = (handle: TestStandIn): GitHubSettings => ({
  webUrl: handle.standIn.url,
  apiUrl: handle.standIn.apiUrl,
  clientId: handle.standIn.clientId,
  clientSecret: handle.standIn.clientSecret,
  app: { id: String(handle.standIn.app!.id), privateKey: handle.appPrivateKey! },
});

const mints = (handle: TestStandIn) =>
  handle.logs().split("minted an installation token").length - 1;

describe("installation tokens", () => {
  it("are minted once for two git operations in a row, per repository and permission", async () => {
    const github = settingsOf(stand);
    const before = mints(stand);
    const first = await obtainInstallationToken(github, "stand-in/sample", "write");
    const second = await obtainInstallationToken(github, "stand-in/sample", "write");
    expect(second).toEqual(first);
    expect(mints(stand)).toBe(before + 1);
    // Another permission or another repository is another token.
    const reader = await obtainInstallationToken(github, "stand-in/sample", "read");
    const other = await obtainInstallationToken(github, "stand-in/other", "write");
    expect(new Set([first.token, reader.token, other.token]).size).toBe(3);
    expect(stand.standIn.switches.describeInstallationToken(reader.token)).toMatchObject({
      repositories: ["stand-in/sample"],
      contents: "read",
    });
    expect(mints(stand)).toBe(before + 3);
  });

  it("are minted afresh once GitHub no longer takes the cached one", async () => {
    const github = settingsOf(stand);
    const first = await obtainInstallationToken(github, "stand-in/sample", "write");
    await stand.standIn.switches.expireAccessTokens();
    const before = mints(stand);
    const second = await obtainInstallationToken(github, "stand-in/sample", "write");
    expect(second.token).not.toBe(first.token);
    expect(mints(stand)).toBe(before + 1);
    expect(stand.standIn.switches.describeInstallationToken(second.token)).toBeDefined();
  });

  it("are not reused within five minutes of their expiry", async () => {
    const github = settingsOf(shortLived);
    const first = await obtainInstallationToken(github, "stand-in/sample", "write");
    const second = await obtainInstallationToken(github, "stand-in/sample", "write");
    expect(second.token).not.toBe(first.token);
    expect(mints(shortLived)).toBe(2);
  });

  it("are refused at once when the App was uninstalled, even with one cached", async () => {
    const github = settingsOf(stand);
    await obtainInstallationToken(github, "stand-in/sample", "write");
    stand.standIn.switches.setAppInstalled("stand-in", false);
    try {
      await expect(
        obtainInstallationToken(github, "stand-in/sample", "write"),
      ).rejects.toMatchObject({
        code: "PRECONDITION_FAILED",
        message: expect.stringContaining("not installed on stand-in/sample"),
      });
    } finally {
      stand.standIn.switches.setAppInstalled("stand-in", true);
    }
  });
});
