/* eslint-disable security/detect-non-literal-fs-filename -- seeds fixed sample repositories into the stand-in's own folder */
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
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

export type SeededRepository = {
  name: string;
  description: string;
  /** The date of its one commit, which is what GitHub reports as pushed_at. */
  pushedAt: Date;
  private?: boolean;
};

/**
 * Many repositories of `owner` at once, for tests of paging and order: one `git init` for a
 * template, then one `git fast-import` per repository (its one commit dated `pushedAt`).
 */
export async function createRepositories(
  reposDir: string,
  owner: string,
  repositories: SeededRepository[],
): Promise<void> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), "github-stand-in-template-"));
  const template = path.join(scratch, "template.git");
  await runGit(["init", "--quiet", "--bare", "--initial-branch=main", template]);
  await runGit([`--git-dir=${template}`, "config", "http.receivepack", "true"]);
  try {
    await mkdir(path.join(reposDir, owner), { recursive: true });
    for (const repository of repositories) {
      const target = repositoryPath(reposDir, { owner, name: repository.name });
      const building = `${target}.partial`;
      await rm(building, { recursive: true, force: true });
      await cp(template, building, { recursive: true });
      await writeFile(path.join(building, "description"), `${repository.description}\n`);
      if (repository.private) await writeFile(path.join(building, markerOfPrivateRepository), "");
      await runGit([`--git-dir=${building}`, "fast-import", "--quiet"], {
        input: fastImportCommit(repository),
      });
      await rename(building, target);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function fastImportCommit(repository: SeededRepository): string {
  const seconds = Math.floor(repository.pushedAt.getTime() / 1000);
  const message = `Start ${repository.name}\n`;
  const content = `# ${repository.name}\n\n${repository.description}\n`;
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  return [
    "commit refs/heads/main\n",
    `author Stand-in <stand-in@example.invalid> ${seconds} +0000\n`,
    `committer Stand-in <stand-in@example.invalid> ${seconds} +0000\n`,
    data(message),
    "M 100644 inline README.md\n",
    data(content),
  ].join("");
}
