/* eslint-disable security/detect-non-literal-fs-filename -- repository paths are built only from names that pass isSafeName (owner/name of [A-Za-z0-9._-]) under the stand-in's own folder */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { runGit } from "./run-git.ts";

// The stand-in's repositories are plain bare repositories on disk at
// {reposDir}/{owner}/{name}.git; whatever is there is what the API lists.

export type RepositoryName = { owner: string; name: string };

export type RepositoryFacts = RepositoryName & {
  description: string | null;
  /** Private: only its owner sees it (the stand-in has no collaborators). */
  private: boolean;
  defaultBranch: string;
  pushedAt: Date;
  /** When `git init` made it: its HEAD file is written then and rarely after. */
  createdAt: Date;
};

export type Branch = { name: string; sha: string };

const safeName = /^[A-Za-z0-9_.-]+$/;
// The text `git init` writes into every new repository's description file.
const defaultDescription = /^Unnamed repository;/;

/** True for names that are safe as one path segment (no traversal, no separators). */
export function isSafeName(name: string): boolean {
  return safeName.test(name) && name !== "." && name !== "..";
}

export function repositoryPath(reposDir: string, repo: RepositoryName): string {
  return path.join(reposDir, repo.owner, `${repo.name}.git`);
}

/** Every repository on disk, sorted like GitHub sorts by full_name. */
export async function listRepositoryNames(reposDir: string): Promise<RepositoryName[]> {
  const names: RepositoryName[] = [];
  for (const owner of await readDirectoryNames(reposDir)) {
    if (!isSafeName(owner)) continue;
    for (const entry of await readDirectoryNames(path.join(reposDir, owner))) {
      const name = entry.endsWith(".git") ? entry.slice(0, -".git".length) : "";
      if (isSafeName(name)) names.push({ owner, name });
    }
  }
  return names.sort((a, b) => compareText(fullName(a), fullName(b)));
}

export async function repositoryExists(reposDir: string, repo: RepositoryName): Promise<boolean> {
  if (!isSafeName(repo.owner) || !isSafeName(repo.name)) return false;
  try {
    return (await stat(path.join(repositoryPath(reposDir, repo), "HEAD"))).isFile();
  } catch {
    return false;
  }
}

/** A file of the stand-in's own inside a bare repository that marks it private. */
export const markerOfPrivateRepository = "stand-in-private";

export async function isPrivateRepository(reposDir: string, repo: RepositoryName) {
  return stat(path.join(repositoryPath(reposDir, repo), markerOfPrivateRepository)).then(
    () => true,
    () => false,
  );
}

/**
 * Whether `viewer` may see the repository at all; GitHub answers 404, not 403, when not. An
 * installation's bot sees public repositories here; its own private ones are let through by
 * the git server, which knows the token's repositories.
 */
export async function canSeeRepository(
  reposDir: string,
  repo: RepositoryName,
  viewer: { login: string },
): Promise<boolean> {
  if (!(await repositoryExists(reposDir, repo))) return false;
  return (
    viewer.login.toLowerCase() === repo.owner.toLowerCase() ||
    !(await isPrivateRepository(reposDir, repo))
  );
}

// Facts by git folder, with the stamp they were read at: listing sorts every repository, and
// one git process per repository per page would make a list of hundreds slow.
const factsCache = new Map<string, { stamp: string; facts: RepositoryFacts }>();

export async function readRepositoryFacts(
  reposDir: string,
  repo: RepositoryName,
): Promise<RepositoryFacts> {
  const gitDir = repositoryPath(reposDir, repo);
  const stamp = await stampOf(gitDir);
  const cached = factsCache.get(gitDir);
  if (cached?.stamp === stamp) return { ...cached.facts, ...repo };
  const facts = await readFreshFacts(reposDir, repo);
  factsCache.set(gitDir, { stamp, facts });
  return facts;
}

/**
 * What changes whenever a fact may change: git replaces a ref by renaming a lock file over
 * it, so every push, new branch or deletion gives some file under refs/heads (or packed-refs)
 * a new modification time; HEAD, the description and the private marker the same.
 */
async function stampOf(gitDir: string): Promise<string> {
  const files = ["HEAD", "description", "packed-refs", markerOfPrivateRepository, "refs/heads"];
  const refs = await readdir(path.join(gitDir, "refs", "heads"), { recursive: true }).catch(
    () => [] as string[],
  );
  const times = await Promise.all(
    [...files, ...refs.map((ref) => path.join("refs", "heads", ref))].map((file) =>
      stat(path.join(gitDir, file)).then(
        (info) => `${file}:${info.mtimeMs}:${info.size}`,
        () => `${file}:-`,
      ),
    ),
  );
  return times.join("|");
}

async function readFreshFacts(reposDir: string, repo: RepositoryName): Promise<RepositoryFacts> {
  const gitDir = repositoryPath(reposDir, repo);
  const head = await readFile(path.join(gitDir, "HEAD"), "utf8");
  const description = (await readOptionalFile(path.join(gitDir, "description"))).trim();
  const newest = await runGit([
    `--git-dir=${gitDir}`,
    "for-each-ref",
    "--sort=-committerdate",
    "--count=1",
    "--format=%(committerdate:iso-strict)",
    "refs/heads",
  ]);
  const createdAt = (await stat(path.join(gitDir, "HEAD"))).mtime;
  return {
    ...repo,
    description: description && !defaultDescription.test(description) ? description : null,
    private: await isPrivateRepository(reposDir, repo),
    defaultBranch: /^ref: refs\/heads\/(.+)$/m.exec(head)?.[1] ?? "main",
    // An empty repository has no commits to date it; its creation stands in.
    pushedAt: newest.trim() ? new Date(newest.trim()) : createdAt,
    createdAt,
  };
}

export async function listBranches(reposDir: string, repo: RepositoryName): Promise<Branch[]> {
  const output = await runGit([
    `--git-dir=${repositoryPath(reposDir, repo)}`,
    "for-each-ref",
    "--sort=refname",
    "--format=%(objectname) %(refname:strip=2)",
    "refs/heads",
  ]);
  return output
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(" ");
      return { sha: line.slice(0, space), name: line.slice(space + 1) };
    });
}

export function fullName(repo: RepositoryName): string {
  return `${repo.owner}/${repo.name}`;
}

/** A stable numeric id for things the stand-in does not number itself (repos, orgs). */
export function stableId(text: string): number {
  return (createHash("sha256").update(text).digest().readUInt32BE(0) % 900_000_000) + 100_000_000;
}

// Case-insensitive and independent of the machine's locale, so every run lists the same order.
export function compareText(a: string, b: string): number {
  const [left, right] = [a.toLowerCase(), b.toLowerCase()];
  return left < right ? -1 : left > right ? 1 : 0;
}

async function readDirectoryNames(directory: string): Promise<string[]> {
  try {
    const entries = await readdir(directory, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

async function readOptionalFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch {
    return "";
  }
}
