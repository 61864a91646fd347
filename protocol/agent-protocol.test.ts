import { describe, expect, it } from "vitest";
import { repositoryOfGitPath } from "./agent-protocol.ts";

// The credential helper and the control plane both decide with this which repository git asks
// about; anything that maps to the workspace's repository gets its token.
describe("repositoryOfGitPath", () => {
  it("reads owner/name from what git and Git LFS send, case-insensitively", () => {
    for (const path of ["Owner/Repo.git", "/owner/repo/", "owner/repo", "owner/repo.git/info/lfs"])
      expect(repositoryOfGitPath(path), path).toBe("owner/repo");
    expect(repositoryOfGitPath("owner/repo.git/info/lfs/objects/batch")).toBe("owner/repo");
  });

  it("keeps anything else distinct from the repository", () => {
    for (const path of [
      "owner/repo-other.git",
      "owner/repo.git/extra",
      "owner/repo/info/lfs",
      "other/repo",
    ])
      expect(repositoryOfGitPath(path), path).not.toBe("owner/repo");
  });
});
