import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvError, parseEnv, requireGitHub } from "./env.ts";

// GITHUB_APP_ID with GITHUB_APP_PRIVATE_KEY (or _FILE): both or neither, a real key, and
// never the key in an error message.

const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const client = {
  GITHUB_CLIENT_ID: "Iv1.abc",
  GITHUB_CLIENT_SECRET: "secret",
  WORKSPACE_PROVIDER: "hetzner",
};
let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), "caw-env-app-"));
});
afterAll(() => rm(folder, { recursive: true, force: true }));

const problemsOf = (source: Record<string, string>) => {
  try {
    parseEnv(source);
  } catch (error) {
    if (error instanceof EnvError) return error.message;
    throw error;
  }
  return "";
};

describe("GitHub App settings", () => {
  it("accept the key with literal newlines, with \\n escapes, or from a file", async () => {
    const file = path.join(folder, "app.pem");
    await writeFile(file, privateKey);
    for (const key of [
      { GITHUB_APP_PRIVATE_KEY: privateKey },
      { GITHUB_APP_PRIVATE_KEY: privateKey.replace(/\n/g, "\\n") },
      { GITHUB_APP_PRIVATE_KEY_FILE: file },
    ]) {
      const github = requireGitHub(parseEnv({ ...client, GITHUB_APP_ID: "12345", ...key }));
      expect(github.app).toEqual({ id: "12345", privateKey: privateKey.trim() });
    }
  });

  it("stay off without GITHUB_APP_ID: GITHUB_CLIENT_ID/SECRET are then an OAuth app's", () => {
    expect(requireGitHub(parseEnv(client)).app).toBeUndefined();
  });

  it("refuse half a setting, a non-key, an unreadable file or a client id as App ID", () => {
    expect(problemsOf({ ...client, GITHUB_APP_ID: "1" })).toContain("set both");
    expect(problemsOf({ ...client, GITHUB_APP_PRIVATE_KEY: privateKey })).toContain("set both");
    expect(problemsOf({ GITHUB_APP_ID: "1", GITHUB_APP_PRIVATE_KEY: privateKey })).toContain(
      "required with GITHUB_APP_ID",
    );
    const notAKey = problemsOf({
      ...client,
      GITHUB_APP_ID: "1",
      GITHUB_APP_PRIVATE_KEY: "nope-secret",
    });
    expect(notAKey).toContain("not a PEM private key");
    expect(notAKey).not.toContain("nope-secret");
    expect(
      problemsOf({
        ...client,
        GITHUB_APP_ID: "1",
        GITHUB_APP_PRIVATE_KEY_FILE: path.join(folder, "missing.pem"),
      }),
    ).toContain("cannot read");
    expect(
      problemsOf({ ...client, GITHUB_APP_ID: "Iv1.abc", GITHUB_APP_PRIVATE_KEY: privateKey }),
    ).toContain("numeric App ID");
    const both = problemsOf({
      ...client,
      GITHUB_APP_ID: "1",
      GITHUB_APP_PRIVATE_KEY: privateKey,
      GITHUB_APP_PRIVATE_KEY_FILE: "x",
    });
    expect(both).toContain("not both");
    expect(both).not.toContain("PRIVATE KEY-----");
  });
});
