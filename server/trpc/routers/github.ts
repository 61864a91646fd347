import { listGitHubRepositories } from "../../services/github-repositories.ts";
import { protectedProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

export const githubRouter = router({
  repos: protectedProcedure.query(({ ctx }) =>
    listGitHubRepositories(ctx.db, ctx.keyring, ownerOf(ctx), ctx.github, ctx.logger),
  ),
});
