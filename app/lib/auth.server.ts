import type { AppLoadContext } from "@remix-run/node";
import {
  beginGitHubSignIn,
  completeGitHubSignIn,
  signOut,
} from "../../server/auth/github-sign-in.ts";

// The auth resource routes' glue: the load context becomes the sign-in flow's dependencies.

const depsOf = (context: AppLoadContext) => ({
  db: context.db,
  keyring: context.keyring,
  github: context.github,
  publicUrl: context.env.PUBLIC_URL,
  secureCookies: context.secureCookies,
  adminLogins: context.env.ADMIN_GITHUB_LOGINS,
  logger: context.logger,
});

export const startSignIn = (context: AppLoadContext) => beginGitHubSignIn(depsOf(context));
export const finishSignIn = (context: AppLoadContext, request: Request) =>
  completeGitHubSignIn(depsOf(context), request);
export const endSession = (context: AppLoadContext, request: Request) =>
  signOut(depsOf(context), request);
