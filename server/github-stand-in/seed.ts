/* eslint-disable security/detect-non-literal-fs-filename -- seeds fixed sample repositories into the stand-in's own folder */
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { listRepositoryNames, markerOfPrivateRepository, repositoryPath } from "./repos.ts";
import { runGit } from "./run-git.ts";

export const sampleRepository = {
  owner: "stand-in",
  name: "sample",
  commitSubject: "Add the sample project",
} as const;

// A fixed identity and date make the seeded commit the same on every machine.
const seedIdentity = {
  GIT_AUTHOR_NAME: "Stand-in",
  GIT_AUTHOR_EMAIL: "stand-in@example.invalid",
  GIT_AUTHOR_DATE: "2024-01-01T00:00:00Z",
  GIT_COMMITTER_NAME: "Stand-in",
  GIT_COMMITTER_EMAIL: "stand-in@example.invalid",
  GIT_COMMITTER_DATE: "2024-01-01T00:00:00Z",
};

const readme =
  "# Sample project\n\nA repository served by the GitHub stand-in for local development.\n";

/** Creates the sample repository when there are no repositories at all yet. */
export async function seedRepositories(reposDir: string): Promise<boolean> {
  if ((await listRepositoryNames(reposDir)).length > 0) return false;
  await createRepository(reposDir, sampleRepository, {
    description: "The sample project of the GitHub stand-in",
    commitSubject: sampleRepository.commitSubject,
  });
  return true;
}

/** A bare repository with one commit (a README), accepting pushes; for the seed and tests. */
export async function createRepository(
  reposDir: string,
  repo: { owner: string; name: string },
  facts: { description: string; commitSubject: string; private?: boolean },
): Promise<void> {
  const target = repositoryPath(reposDir, repo);
  // Built beside its final place and renamed in, so a crash never leaves a half-made repository
  // that would stop the next start from seeding.
  const building = `${target}.partial`;
  await rm(building, { recursive: true, force: true });
  await mkdir(path.dirname(target), { recursive: true });
  await runGit(["init", "--quiet", "--bare", "--initial-branch=main", building]);
  await runGit([`--git-dir=${building}`, "config", "http.receivepack", "true"]);
  await writeFile(path.join(building, "description"), `${facts.description}\n`);
  if (facts.private) await writeFile(path.join(building, markerOfPrivateRepository), "");
  await pushFirstCommit(building, facts.commitSubject);
  await rename(building, target);
}

async function pushFirstCommit(bareRepository: string, commitSubject: string): Promise<void> {
  const workTree = await mkdtemp(path.join(os.tmpdir(), "github-stand-in-seed-"));
  try {
    const git = (args: string[]) => runGit(args, { cwd: workTree, env: seedIdentity });
    await git(["init", "--quiet", "--initial-branch=main"]);
    await writeFile(path.join(workTree, "README.md"), readme);
    await git(["add", "README.md"]);
    await git(["-c", "commit.gpgsign=false", "commit", "--quiet", "-m", commitSubject]);
    await git(["push", "--quiet", bareRepository, "main:main"]);
  } finally {
    await rm(workTree, { recursive: true, force: true });
  }
}
