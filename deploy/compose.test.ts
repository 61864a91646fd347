import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseEnv } from "../server/env.ts";

// compose.yaml's structure (no compose binary on this machine: it is parsed, merge keys and
// all, and its services checked), and .env.example against the settings table and parseEnv.

type Service = {
  image?: string;
  build?: { context: string; args?: Record<string, string> };
  command?: string[];
  env_file?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
  read_only?: boolean;
  healthcheck?: { test: string[] };
  volumes?: string[];
  stop_grace_period?: string;
};

const root = new URL("../", import.meta.url);
const read = (name: string) => readFile(new URL(name, root), "utf8");
const composeText = await read("compose.yaml");
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const example = parseEnvFile(await read(".env.example"));
const dockerfile = await read("Dockerfile");
const readme = await read("README.md");
// Variables compose.yaml itself reads from .env (never passed to the programs as settings).
const composeOnly = ["POSTGRES_PASSWORD", "WEB_PORT", "CAW_IMAGE"];

function parseEnvFile(text: string): Map<string, string> {
  const entries = text
    .split("\n")
    .filter((line) => line.trim() && !line.trim().startsWith("#"))
    .map((line) => {
      const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (!match) throw new Error(`.env.example: "${line}" is not NAME=value`);
      return [match[1]!, match[2]!] as const;
    });
  return new Map(entries);
}

function service(name: string): Service {
  const found = compose.services[name];
  if (!found) throw new Error(`compose.yaml has no service ${name}`);
  return found;
}

const seconds = (value: string | undefined) => Number(/^(\d+)s$/.exec(value ?? "")?.[1] ?? NaN);

describe("compose.yaml", () => {
  it("runs PostgreSQL (pinned 15 or 16) on a volume, with a health check", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["migrate", "postgres", "web", "worker"]);
    const postgres = service("postgres");
    expect(postgres.image).toMatch(/^postgres:1[56]\.\d+(-[a-z]+)?$/);
    expect(postgres.volumes).toEqual(["postgres-data:/var/lib/postgresql/data"]);
    expect(Object.keys(compose.volumes)).toEqual(["postgres-data"]);
    expect(postgres.healthcheck?.test.slice(0, 2)).toEqual(["CMD", "pg_isready"]);
  });

  it("migrates once, after PostgreSQL is healthy, and starts web and worker after that", () => {
    const migrate = service("migrate");
    expect(migrate.restart).toBe("no");
    expect(migrate.build?.context).toBe(".");
    expect(migrate.command).toEqual([
      "node",
      "--import",
      "tsx",
      "server/database/migrate-command.ts",
    ]);
    expect(migrate.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    for (const name of ["web", "worker"])
      expect(service(name).depends_on).toEqual({
        postgres: { condition: "service_healthy" },
        migrate: { condition: "service_completed_successfully" },
      });
  });

  it("starts each program as the image does: node in exec form, from one image", () => {
    const webCommand = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(service("web").command).toEqual(webCommand);
    expect(service("worker").command).toEqual(["node", "build/server/worker.js"]);
    const images = new Set(["migrate", "web", "worker"].map((name) => service(name).image));
    expect([...images]).toEqual(["${CAW_IMAGE:-cloud-ai-workspaces:local}"]);
  });

  it("gives every program the database, .env's settings, a read-only root and a restart policy", () => {
    for (const name of ["migrate", "web", "worker"]) {
      const { environment, env_file, read_only, restart } = service(name);
      expect(env_file).toBe(".env");
      expect(read_only).toBe(true);
      expect(environment?.DATABASE_URL).toMatch(
        /^postgres:\/\/caw:\$\{POSTGRES_PASSWORD:\?.+\}@postgres:5432\/caw$/,
      );
      expect(environment?.HOST).toBe("0.0.0.0");
      if (name !== "migrate") expect(restart).toBe("unless-stopped");
    }
    for (const [name, drain] of [
      ["web", "WEB_DRAIN_GRACE_SECONDS"],
      ["worker", "WORKER_DRAIN_GRACE_SECONDS"],
    ] as const) {
      const { environment, stop_grace_period } = service(name);
      const grace = Number(environment?.[drain]);
      expect(grace).toBeGreaterThanOrEqual(0);
      expect(seconds(stop_grace_period)).toBeGreaterThan(grace);
    }
  });

  it("holds no secret: every secret comes from .env", () => {
    const secretNames = /ENCRYPTION_KEYS|GITHUB_CLIENT_SECRET|PRIVATE_KEY|API_TOKEN/;
    expect(composeText).not.toMatch(secretNames);
    const required = [...composeText.matchAll(/\$\{([A-Z_]+):\?/g)].map((match) => match[1]!);
    for (const name of required) expect(example.has(name)).toBe(true);
  });
});

describe(".env.example", () => {
  it("names only settings from README's table, or compose's own variables", () => {
    const documented = new Set(
      readme
        .split("\n")
        .filter((line) => line.startsWith("| `"))
        .flatMap((line) =>
          [...line.split("|")[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!),
        ),
    );
    const unknown = [...example.keys()].filter(
      (name) => !documented.has(name) && !composeOnly.includes(name),
    );
    expect(unknown).toEqual([]);
  });

  it("has no secret filled in", () => {
    for (const name of [
      "POSTGRES_PASSWORD",
      "ENCRYPTION_KEYS",
      "GITHUB_CLIENT_SECRET",
      "CLOUDFLARE_API_TOKEN",
    ])
      expect(example.get(name)).toBe("");
  });

  it("is accepted by the programs' settings parser once its empty values are filled in", () => {
    const filled: Record<string, string> = {
      ...Object.fromEntries(example),
      ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}`,
      GITHUB_CLIENT_ID: "Iv1.example",
      GITHUB_CLIENT_SECRET: "example-secret",
      CLOUDFLARE_API_TOKEN: "example-token",
      CLOUDFLARE_ZONE_ID: "example-zone",
      ...service("web").environment,
      DATABASE_URL: "postgres://caw:password@postgres:5432/caw",
    };
    for (const name of composeOnly) delete filled[name];
    const env = parseEnv(filled);
    expect(env).toMatchObject({ WORKSPACE_PROVIDER: "hetzner", DNS_PROVIDER: "cloudflare" });
    expect(() => parseEnv({ ...filled, DNS_PROVIDER: "cloudfare" })).toThrow(/DNS_PROVIDER/);
  });
});
