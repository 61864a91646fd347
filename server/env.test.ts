import path from "node:path";
import { describe, expect, it } from "vitest";
import { childEnvironment, EnvError, parseEnv, requireDatabaseUrl } from "./env.ts";

function problemsOf(source: Record<string, string>): string[] {
  try {
    parseEnv(source);
  } catch (error) {
    if (error instanceof EnvError) return error.problems;
    throw error;
  }
  throw new Error("expected parseEnv to fail");
}

describe("parseEnv", () => {
  it("gives the one-machine defaults when nothing is set", () => {
    const env = parseEnv({});
    expect(env.PORT).toBe(3000);
    expect(env.PUBLIC_URL).toBe("http://localhost:3000");
    expect(env.DATA_DIR).toBe(path.resolve(".data"));
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.LOG_LEVEL).toBe("info");
  });

  it("derives PUBLIC_URL from PORT and trims a trailing slash from an explicit one", () => {
    expect(parseEnv({ PORT: "4100" }).PUBLIC_URL).toBe("http://localhost:4100");
    expect(parseEnv({ PUBLIC_URL: "https://ws.example.com/" }).PUBLIC_URL).toBe(
      "https://ws.example.com",
    );
  });

  it("treats an empty variable as unset", () => {
    const env = parseEnv({ PORT: "", DATABASE_URL: "" });
    expect(env.PORT).toBe(3000);
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it("names the variable, what it expects and what it got", () => {
    expect(problemsOf({ PORT: "abc" })).toEqual([
      'PORT: expected a whole number between 0 and 65535 (got "abc")',
    ]);
    expect(problemsOf({ PORT: "70000" })[0]).toMatch(/^PORT: expected a whole number/);
    expect(problemsOf({ LOG_LEVEL: "loud" })[0]).toMatch(
      /^LOG_LEVEL: expected one of fatal, error/,
    );
    expect(problemsOf({ PUBLIC_URL: "ftp://x" })[0]).toMatch(/^PUBLIC_URL: expected an http/);
  });

  it("leaves DATABASE_POOL_SIZE to each program unless set, and refuses a pool of none", () => {
    expect(parseEnv({}).DATABASE_POOL_SIZE).toBeUndefined();
    expect(parseEnv({ DATABASE_POOL_SIZE: "25" }).DATABASE_POOL_SIZE).toBe(25);
    expect(problemsOf({ DATABASE_POOL_SIZE: "0" })[0]).toMatch(
      /^DATABASE_POOL_SIZE: expected a whole number greater than 0/,
    );
  });

  it("reports every bad variable at once", () => {
    expect(problemsOf({ PORT: "x", LOG_LEVEL: "y" })).toHaveLength(2);
  });

  it("defaults the engine to the local provider and DNS, and parses its numbers", () => {
    const env = parseEnv({ WORKSPACE_LIMIT: "3", JOB_LEASE_SECONDS: "5" });
    expect(env).toMatchObject({
      WORKSPACE_PROVIDER: "local",
      DNS_PROVIDER: "local",
      WORKSPACE_LIMIT: 3,
      JOB_LEASE_SECONDS: 5,
      JOB_MAX_ATTEMPTS: 5,
    });
    expect(problemsOf({ WORKSPACE_LIMIT: "0" })[0]).toMatch(
      /^WORKSPACE_LIMIT: expected a whole number greater than 0/,
    );
    expect(problemsOf({ WORKSPACE_PROVIDER: "aws" })[0]).toMatch(/expected local or hetzner/);
  });

  it("requires the Cloudflare settings with DNS_PROVIDER=cloudflare, never echoing the token", () => {
    expect(problemsOf({ DNS_PROVIDER: "cloudflare", CLOUDFLARE_API_TOKEN: "secret-cf" })).toEqual([
      "BASE_DOMAIN: required with DNS_PROVIDER=cloudflare (see the settings table)",
      "CLOUDFLARE_ZONE_ID: required with DNS_PROVIDER=cloudflare (see the settings table)",
    ]);
    const [problem] = problemsOf({ BASE_DOMAIN: "not a domain", CLOUDFLARE_API_TOKEN: "" });
    expect(problem).toMatch(/^BASE_DOMAIN: expected a domain/);
  });

  it("never echoes a database password in its error", () => {
    const [problem] = problemsOf({ DATABASE_URL: "mysql://app:hunter2@db:3306/x" });
    expect(problem).toContain("DATABASE_URL: expected a postgres://");
    expect(problem).not.toContain("hunter2");
  });
});

describe("requireDatabaseUrl", () => {
  it("explains how to get a database when none is set", () => {
    expect(() => requireDatabaseUrl(parseEnv({}))).toThrow(/npm start.*embedded PostgreSQL/);
    expect(requireDatabaseUrl(parseEnv({ DATABASE_URL: "postgres://a@b/c" }))).toBe(
      "postgres://a@b/c",
    );
  });
});

describe("the local provider's reach", () => {
  const realGitHub = { GITHUB_CLIENT_ID: "Iv1.abc", GITHUB_CLIENT_SECRET: "secret" };

  it("refuses a real GitHub app or a non-loopback HOST with the local provider", () => {
    const [github] = problemsOf(realGitHub);
    expect(github).toMatch(/^WORKSPACE_PROVIDER: local runs every workspace on this machine/);
    expect(github).toContain("https://github.com");
    expect(github).toContain("LOCAL_PROVIDER_MULTI_USER=true");
    expect(github).not.toContain("secret");
    expect(problemsOf({ HOST: "0.0.0.0" })[0]).toContain("HOST=0.0.0.0 listens beyond loopback");
  });

  it("allows them when LOCAL_PROVIDER_MULTI_USER=true, with Hetzner, or with the loopback stand-in", () => {
    expect(parseEnv({ ...realGitHub, LOCAL_PROVIDER_MULTI_USER: "true" }).WORKSPACE_PROVIDER).toBe(
      "local",
    );
    expect(parseEnv({ ...realGitHub, WORKSPACE_PROVIDER: "hetzner" }).HOST).toBe("127.0.0.1");
    expect(parseEnv({ HOST: "0.0.0.0", WORKSPACE_PROVIDER: "hetzner" }).HOST).toBe("0.0.0.0");
    // What the launcher hands its children when the built-in stand-in plays GitHub.
    const standIn = { ...realGitHub, GITHUB_URL: "http://127.0.0.1:41234" };
    expect(parseEnv(standIn).LOCAL_PROVIDER_MULTI_USER).toBe(false);
    expect(problemsOf({ LOCAL_PROVIDER_MULTI_USER: "yes" })[0]).toMatch(
      /^LOCAL_PROVIDER_MULTI_USER: expected true or false/,
    );
  });
});

describe("the orchestrator settings", () => {
  it("gives the worker's probe port and the drain graces their defaults", () => {
    const env = parseEnv({});
    expect(env.WORKER_PORT).toBe(9464);
    expect(env.WEB_DRAIN_GRACE_SECONDS).toBe(5);
    expect(env.WORKER_DRAIN_GRACE_SECONDS).toBe(15);
  });

  it("takes 0 for a free worker port and for a web that closes at once", () => {
    const env = parseEnv({ WORKER_PORT: "0", WEB_DRAIN_GRACE_SECONDS: "0" });
    expect(env.WORKER_PORT).toBe(0);
    expect(env.WEB_DRAIN_GRACE_SECONDS).toBe(0);
    expect(parseEnv({ WEB_DRAIN_GRACE_SECONDS: "12" }).WEB_DRAIN_GRACE_SECONDS).toBe(12);
  });

  it("names the variable and what it expects", () => {
    expect(problemsOf({ WORKER_PORT: "metrics" })).toEqual([
      'WORKER_PORT: expected a whole number between 0 and 65535 (got "metrics")',
    ]);
    expect(problemsOf({ WEB_DRAIN_GRACE_SECONDS: "-1" })).toEqual([
      'WEB_DRAIN_GRACE_SECONDS: expected a whole number of seconds, 0 or more (got "-1")',
    ]);
  });
});

describe("childEnvironment", () => {
  it("uses a default only where the operator set nothing", () => {
    const name = "CAW_CHILD_ENV_TEST";
    const before = process.env[name];
    try {
      delete process.env[name];
      expect(childEnvironment({}, { [name]: "0" })[name]).toBe("0");
      process.env[name] = "";
      expect(childEnvironment({}, { [name]: "0" })[name]).toBe("0");
      process.env[name] = "9000";
      expect(childEnvironment({}, { [name]: "0" })[name]).toBe("9000");
      expect(childEnvironment({ [name]: "1" }, { [name]: "0" })[name]).toBe("1");
    } finally {
      if (before === undefined) delete process.env[name];
      else process.env[name] = before;
    }
  });
});
