import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../../db/migrate.ts";
import { startEmbeddedPostgres } from "../database/embedded-postgres.ts";
import { createLogger } from "../logger.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseAdminUrl: string;
    templateDatabase: string;
  }
}

/**
 * One PostgreSQL per test run (DATABASE_URL when set, else a throwaway embedded cluster)
 * and one migrated template database; each test file clones the template (CREATE DATABASE
 * … TEMPLATE is a file copy, far faster than migrating).
 */
export default async function setup(project: TestProject) {
  let adminUrl = process.env.DATABASE_URL;
  let cleanup = async () => {};
  if (!adminUrl) {
    // mkdtemp makes a private folder; the postgres user (when we are root) must enter it.
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-test-"));
    await chmod(dataDir, 0o755);
    const logger = createLogger({ level: "warn", service: "test-database" });
    const embedded = await startEmbeddedPostgres({ dataDir, logger, durable: false });
    adminUrl = embedded.adminUrl;
    cleanup = async () => {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
  }
  const templateDatabase = `caw_template_${process.pid}_${project.name}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin`drop database if exists ${admin(templateDatabase)} with (force)`;
  await admin`create database ${admin(templateDatabase)}`;
  await migrateDatabase(withDatabase(adminUrl, templateDatabase));
  project.provide("databaseAdminUrl", adminUrl);
  project.provide("templateDatabase", templateDatabase);
  return async () => {
    await admin`drop database if exists ${admin(templateDatabase)} with (force)`;
    await admin.end();
    await cleanup();
  };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
