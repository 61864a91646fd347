import type { IncomingMessage, ServerResponse } from "node:http";
import { errors as joseErrors, jwtVerify } from "jose";
import { z } from "zod";
import type { StandInApp, StandInContext } from "./context.ts";
import {
  documentationUrl,
  parseTokenAuth,
  readSmallBody,
  sendJson,
  sendNotFound,
} from "./http-io.ts";
import { listRepositoryNames, repositoryExists, stableId } from "./repos.ts";

// The REST endpoints a GitHub App calls with its JWT (shapes checked against GitHub's OpenAPI
// description in app-contract.test.ts): the App itself, a repository's installation, and
// installation access tokens limited to some of the installation's repositories.

const appPermissions = { contents: "write", metadata: "read" } as const;
const appEvents: string[] = [];
const createdAt = "2024-01-01T00:00:00Z";

const accessTokenRequestSchema = z.object({
  repositories: z.array(z.string().min(1)).max(500).optional(),
  repository_ids: z.array(z.number().int()).optional(),
  permissions: z.record(z.string(), z.enum(["read", "write"])).optional(),
});

/** Answers an App endpoint, or returns false when the path is not one. */
export async function handleAppRequest(
  context: StandInContext,
  req: IncomingMessage,
  path: string,
  res: ServerResponse,
): Promise<boolean> {
  const installationOf = /^\/repos\/([^/]+)\/([^/]+)\/installation$/.exec(path);
  const tokensFor = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
  if (path !== "/app" && !installationOf && !tokensFor) return false;
  const app = context.app;
  if (!app) return (sendNotFound(res), true);
  const refusal = await verifyAppJwt(app, req.headers.authorization);
  if (refusal) return (sendJson(res, 401, { message: refusal, documentation_url }), true);
  if (path === "/app" && req.method === "GET") sendJson(res, 200, describeApp(context, app));
  else if (installationOf && req.method === "GET")
    await showRepositoryInstallation(context, app, installationOf[1]!, installationOf[2]!, res);
  else if (tokensFor && req.method === "POST")
    await createAccessToken(context, app, Number(tokensFor[1]), req, res);
  else sendNotFound(res);
  return true;
}

const documentation_url = documentationUrl;

// GitHub's rules: RS256 with one of the App's keys, `iss` the App ID, at most 10 minutes.
async function verifyAppJwt(app: StandInApp, header: string | undefined): Promise<string | null> {
  const token = /^Bearer\s+(\S+)$/i.exec(header ?? "")?.[1] ?? parseTokenAuth(header);
  if (!token) return "A JSON web token could not be decoded";
  try {
    const { payload } = await jwtVerify(token, app.publicKey, {
      algorithms: ["RS256"],
      clockTolerance: 60,
    });
    if (String(payload.iss) !== String(app.id)) return "Integration not found";
    if (typeof payload.exp !== "number" || typeof payload.iat !== "number")
      return "Missing 'issued at' or 'expiration time' claim";
    if (payload.exp - Date.now() / 1000 > 600 + 60)
      return "'Expiration time' claim ('exp') is too far in the future";
    return null;
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired)
      return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
    return "A JSON web token could not be decoded";
  }
}

/** The installation covering an owner's repositories: one per owner, unless uninstalled. */
function installationIdOf(app: StandInApp, owner: string): number | undefined {
  return app.uninstalledOwners.has(owner.toLowerCase())
    ? undefined
    : stableId(`installation:${owner.toLowerCase()}`);
}

async function showRepositoryInstallation(
  context: StandInContext,
  app: StandInApp,
  owner: string,
  name: string,
  res: ServerResponse,
): Promise<void> {
  const id = installationIdOf(app, owner);
  if (!id || !(await repositoryExists(context.reposDir, { owner, name }))) return sendNotFound(res);
  sendJson(res, 200, describeInstallation(context, app, id, owner));
}

async function createAccessToken(
  context: StandInContext,
  app: StandInApp,
  installationId: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const owners = new Set((await listRepositoryNames(context.reposDir)).map((repo) => repo.owner));
  const owner = [...owners].find((name) => installationIdOf(app, name) === installationId);
  if (!owner) return sendNotFound(res);
  let body: z.output<typeof accessTokenRequestSchema>;
  try {
    body = accessTokenRequestSchema.parse(JSON.parse((await readSmallBody(req)) || "{}"));
  } catch {
    return unprocessable(
      res,
      "Invalid request.\n\nFor 'properties/repositories', the input is not an array of names.",
    );
  }
  const names = body.repositories ?? [];
  const existing = await Promise.all(
    names.map((name) => repositoryExists(context.reposDir, { owner, name })),
  );
  if (existing.includes(false) || body.repository_ids?.length)
    return unprocessable(
      res,
      "There is at least one repository that does not exist or is not accessible to the parent installation.",
    );
  const permissions = body.permissions ?? { ...appPermissions };
  const allowed = Object.entries(permissions).every(([key, level]) =>
    key === "contents" ? true : key === "metadata" && level === "read",
  );
  if (!allowed)
    return unprocessable(res, "The permissions requested are not granted to this installation.");
  const all = (await listRepositoryNames(context.reposDir)).filter((repo) => repo.owner === owner);
  const repositories =
    names.length > 0
      ? names.map((name) => `${owner}/${name}`)
      : all.map((repo) => `${repo.owner}/${repo.name}`);
  const contents = permissions.contents === "write" ? "write" : "read";
  const token = await context.store.issueInstallationToken(
    { id: installationId, repositories, contents },
    app.installationTokenLifetimeMs,
  );
  context.logger.info(
    { installationId, repositories },
    "GitHub stand-in minted an installation token",
  );
  sendJson(res, 201, {
    token,
    expires_at: isoSeconds(Date.now() + app.installationTokenLifetimeMs),
    permissions,
    repository_selection: names.length > 0 ? "selected" : "all",
  });
}

// The description's "Validation Error" has no `status` field (Basic Error has).
function unprocessable(res: ServerResponse, message: string): void {
  sendJson(res, 422, { message, documentation_url });
}

function describeApp(context: StandInContext, app: StandInApp) {
  return {
    id: app.id,
    slug: app.slug,
    node_id: Buffer.from(`03:Integration${app.id}`).toString("base64"),
    client_id: context.store.client.id,
    owner: describeAccount(context, "stand-in", "Organization"),
    name: app.name,
    description: "The GitHub App of the development stand-in",
    external_url: context.url,
    html_url: `${context.url}/apps/${app.slug}`,
    created_at: createdAt,
    updated_at: createdAt,
    permissions: appPermissions,
    events: appEvents,
  };
}

function describeInstallation(context: StandInContext, app: StandInApp, id: number, owner: string) {
  const user = context.store.findUser(owner);
  const type = user ? "User" : "Organization";
  const account = describeAccount(context, user?.login ?? owner, type);
  return {
    id,
    account,
    repository_selection: "all",
    access_tokens_url: `${context.apiUrl}/app/installations/${id}/access_tokens`,
    repositories_url: `${context.apiUrl}/installation/repositories`,
    html_url: `${context.url}/settings/installations/${id}`,
    app_id: app.id,
    app_slug: app.slug,
    client_id: context.store.client.id,
    target_id: account.id,
    target_type: type,
    permissions: appPermissions,
    events: appEvents,
    created_at: createdAt,
    updated_at: createdAt,
    single_file_name: null,
    suspended_by: null,
    suspended_at: null,
  };
}

/** GitHub's "simple user" shape, for users and organisations alike. */
export function describeAccount(context: StandInContext, login: string, type: string) {
  const id = context.store.findUser(login)?.id ?? stableId(`organization:${login}`);
  const api = `${context.apiUrl}/users/${login}`;
  return {
    login,
    id,
    node_id: Buffer.from(`${type === "User" ? "04:User" : "012:Organization"}${id}`).toString(
      "base64",
    ),
    avatar_url: `${context.url}/avatars/${login}.png`,
    gravatar_id: "",
    url: api,
    html_url: `${context.url}/${login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type,
    site_admin: false,
  };
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
