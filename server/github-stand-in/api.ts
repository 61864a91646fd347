import type { IncomingMessage, ServerResponse } from "node:http";
import { handleAppRequest } from "./app-api.ts";
import type { StandInContext } from "./context.ts";
import { documentationUrl, parseTokenAuth, sendJson, sendNotFound } from "./http-io.ts";
import {
  canSeeRepository,
  compareText,
  fullName,
  listBranches,
  listRepositoryNames,
  readRepositoryFacts,
  stableId,
  type RepositoryFacts,
  type RepositoryName,
} from "./repos.ts";
import type { StandInUser } from "./store.ts";

// The REST endpoints the control plane calls, answered in GitHub's shapes under /api/v3
// (the GitHub Enterprise Server layout, so GITHUB_API_URL is simply `${url}/api/v3`).

type ApiRequest = { context: StandInContext; url: URL; user: StandInUser; res: ServerResponse };

const defaultPerPage = 30;
const maxPerPage = 100;

export async function handleApiRequest(
  context: StandInContext,
  req: IncomingMessage,
  url: URL,
  res: ServerResponse,
): Promise<void> {
  // The App's endpoints take its JWT, not a user's token.
  const appPath = url.pathname.slice("/api/v3".length).replace(/\/+$/, "");
  if (await handleAppRequest(context, req, appPath, res)) return;
  const token = parseTokenAuth(req.headers.authorization);
  const grant = token ? context.store.findToken(token) : undefined;
  if (!grant) {
    sendJson(res, 401, { message: "Bad credentials", documentation_url: documentationUrl });
    return;
  }
  res.setHeader("x-oauth-scopes", grant.scope.split(",").join(", "));
  if (!context.rateLimits.admit(grant.user.login, grant.user.id, res)) return;
  const path = url.pathname.slice("/api/v3".length).replace(/\/+$/, "");
  const request: ApiRequest = { context, url, user: grant.user, res };
  if (req.method !== "GET") return sendNotFound(res);
  if (path === "/user") return sendJson(res, 200, describeUser(context, grant.user));
  if (path === "/user/emails") return sendJson(res, 200, [describeEmail(grant.user)]);
  if (path === "/user/repos") return listUserRepositories(request);
  if (/^\/repos\/[^/]+\/[^/]+\/git\/ref\//.test(path)) return showGitRef(request, path);
  const repoPath = /^\/repos\/([^/]+)\/([^/]+)(\/branches)?$/.exec(path);
  if (repoPath?.[1] && repoPath[2]) {
    const repo = { owner: repoPath[1], name: repoPath[2] };
    if (!(await canSeeRepository(context.reposDir, repo, grant.user))) return sendNotFound(res);
    if (repoPath[3]) return listRepositoryBranches(request, repo);
    const facts = await readRepositoryFacts(context.reposDir, repo);
    return sendJson(res, 200, describeRepository(context, facts, grant.user));
  }
  sendNotFound(res);
}

async function listUserRepositories({ context, url, user, res }: ApiRequest): Promise<void> {
  const order = readRepositoryOrder(url);
  if (!order) return sendValidationFailed(res, "sort");
  const visible: RepositoryName[] = [];
  for (const repo of await listRepositoryNames(context.reposDir))
    if (await canSeeRepository(context.reposDir, repo, user)) visible.push(repo);
  const facts = await Promise.all(
    visible.map((repo) => readRepositoryFacts(context.reposDir, repo)),
  );
  const page = selectPage(context, url, facts.sort(order));
  sendJson(
    res,
    200,
    page.items.map((repo) => describeRepository(context, repo, user)),
    page.headers,
  );
}

const sortKeys = {
  created: (repo: RepositoryFacts) => repo.createdAt.getTime(),
  updated: (repo: RepositoryFacts) => repo.pushedAt.getTime(),
  pushed: (repo: RepositoryFacts) => repo.pushedAt.getTime(),
} as const;

/**
 * GitHub's order for GET /user/repos: `sort` is created, updated, pushed or full_name (the
 * default); `direction` defaults to asc for full_name and desc otherwise. Ties go by name.
 */
function readRepositoryOrder(url: URL) {
  const sort = url.searchParams.get("sort") ?? "full_name";
  const direction = url.searchParams.get("direction") ?? (sort === "full_name" ? "asc" : "desc");
  if (direction !== "asc" && direction !== "desc") return undefined;
  const sign = direction === "asc" ? 1 : -1;
  const byName = (a: RepositoryFacts, b: RepositoryFacts) => compareText(fullName(a), fullName(b));
  if (sort === "full_name") return (a: RepositoryFacts, b: RepositoryFacts) => sign * byName(a, b);
  if (!(sort in sortKeys)) return undefined;
  const key = sortKeys[sort as keyof typeof sortKeys];
  return (a: RepositoryFacts, b: RepositoryFacts) => sign * (key(a) - key(b)) || byName(a, b);
}

/** GitHub's 422 for a query parameter outside its enum. */
function sendValidationFailed(res: ServerResponse, field: string): void {
  sendJson(res, 422, {
    message: "Validation Failed",
    errors: [{ resource: "Search", field, code: "invalid" }],
    documentation_url: documentationUrl,
  });
}

async function listRepositoryBranches(
  { context, url, res }: ApiRequest,
  repo: { owner: string; name: string },
): Promise<void> {
  const page = selectPage(context, url, await listBranches(context.reposDir, repo));
  const commitsUrl = `${context.apiUrl}/repos/${fullName(repo)}/commits`;
  const branches = page.items.map((branch) => ({
    name: branch.name,
    commit: { sha: branch.sha, url: `${commitsUrl}/${branch.sha}` },
    protected: false,
  }));
  sendJson(res, 200, branches, page.headers);
}

/** GET /repos/{owner}/{repo}/git/ref/heads/{branch}: one branch's ref, 404 (tags: none), or 409 when empty. */
async function showGitRef({ context, res, user }: ApiRequest, path: string): Promise<void> {
  const [, owner = "", name = "", encoded = ""] =
    /^\/repos\/([^/]+)\/([^/]+)\/git\/ref\/(.+)$/.exec(path) ?? [];
  const repo = { owner, name };
  // Octokit sends the ref as one encoded segment (heads%2Fmain); other clients may not.
  const ref = decodeSegment(encoded);
  if (!ref.startsWith("heads/") || !(await canSeeRepository(context.reposDir, repo, user)))
    return sendNotFound(res);
  const branches = await listBranches(context.reposDir, repo);
  // GitHub's answer for any ref of a repository without commits.
  if (branches.length === 0)
    return sendJson(res, 409, {
      message: "Git Repository is empty.",
      documentation_url: documentationUrl,
    });
  const branch = branches.find((candidate) => `heads/${candidate.name}` === ref);
  if (!branch) return sendNotFound(res);
  const base = `${context.apiUrl}/repos/${fullName(repo)}/git`;
  sendJson(res, 200, {
    ref: `refs/${ref}`,
    node_id: nodeId("03:Ref", stableId(`ref:${fullName(repo)}:${ref}`)),
    url: `${base}/refs/${ref}`,
    object: { type: "commit", sha: branch.sha, url: `${base}/commits/${branch.sha}` },
  });
}

/** A malformed escape is a name that matches nothing, not a server error. */
function decodeSegment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return "";
  }
}

function describeUser(context: StandInContext, user: StandInUser) {
  return {
    login: user.login,
    id: user.id,
    node_id: nodeId("04:User", user.id),
    avatar_url: `${context.url}/avatars/${user.login}.png`,
    name: user.name,
    email: null,
    type: "User",
    html_url: `${context.url}/${user.login}`,
  };
}

function describeEmail(user: StandInUser) {
  return {
    email: `${user.login}@users.noreply.stand-in.invalid`,
    primary: true,
    verified: true,
    visibility: "private",
  };
}

function describeRepository(context: StandInContext, repo: RepositoryFacts, viewer: StandInUser) {
  const id = stableId(`repository:${fullName(repo)}`);
  // Owners that signed in are users; any other owner folder is treated as an organisation.
  const user = context.store.findUser(repo.owner);
  const ownerId = user?.id ?? stableId(`organization:${repo.owner}`);
  const timestamp = repo.pushedAt.toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    id,
    node_id: nodeId("010:Repository", id),
    name: repo.name,
    full_name: fullName(repo),
    private: repo.private,
    visibility: repo.private ? "private" : "public",
    owner: { login: repo.owner, id: ownerId, type: user ? "User" : "Organization" },
    html_url: `${context.url}/${fullName(repo)}`,
    description: repo.description,
    default_branch: repo.defaultBranch,
    clone_url: `${context.url}/${fullName(repo)}.git`,
    updated_at: timestamp,
    pushed_at: timestamp,
    // Everyone may push everywhere, unless a test made the viewer read-only there.
    permissions: describePermissions(context, repo, viewer),
  };
}

// GitHub's legacy global ids: base64 of "{length}:{Type}{id}".
function nodeId(prefix: string, id: number): string {
  return Buffer.from(`${prefix}${id}`).toString("base64");
}

/** Slices one page out of a list and builds GitHub's Link header for the others. */
function selectPage<T>(context: StandInContext, url: URL, all: T[]) {
  const perPage = Math.min(readPositive(url, "per_page") ?? defaultPerPage, maxPerPage);
  const pageCount = Math.max(1, Math.ceil(all.length / perPage));
  const page = readPositive(url, "page") ?? 1;
  const items = all.slice((page - 1) * perPage, page * perPage);
  const link = (number: number, rel: string) => {
    const target = new URL(`${context.url}${url.pathname}`);
    for (const [name, value] of url.searchParams) target.searchParams.set(name, value);
    target.searchParams.set("per_page", String(perPage));
    target.searchParams.set("page", String(number));
    return `<${target.href}>; rel="${rel}"`;
  };
  const links: string[] = [];
  // The order GitHub uses: prev, next, last, first.
  if (page > 1) links.push(link(Math.min(page - 1, pageCount), "prev"));
  if (page < pageCount) links.push(link(page + 1, "next"), link(pageCount, "last"));
  if (page > 1) links.push(link(1, "first"));
  const headers: Record<string, string> = links.length > 0 ? { link: links.join(", ") } : {};
  return { items, headers };
}

function readPositive(url: URL, name: string): number | undefined {
  const value = Number(url.searchParams.get(name));
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

function describePermissions(context: StandInContext, repo: RepositoryFacts, viewer: StandInUser) {
  const owner = viewer.login.toLowerCase() === repo.owner.toLowerCase();
  const push = !context.readOnly.has(`${viewer.login}:${fullName(repo)}`.toLowerCase());
  return { admin: owner, maintain: owner, push, triage: push, pull: true };
}
