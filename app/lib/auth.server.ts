import type { AppLoadContext } from "@remix-run/node";
import { isLoopbackHost } from "../../server/process/loopback.ts";
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

export const startSignIn = (context: AppLoadContext, request: Request) =>
  beginGitHubSignIn(depsOf(context), request);
export const finishSignIn = (context: AppLoadContext, request: Request) =>
  completeGitHubSignIn(depsOf(context), request);
export const endSession = (context: AppLoadContext, request: Request) =>
  signOut(depsOf(context), request);

/**
 * One-machine demo: workspaces run here and GitHub is the stand-in on loopback (the same rule
 * server/env.ts applies), so any login signs in. The header says so.
 */
export const isLocalDemo = (context: AppLoadContext) =>
  context.env.WORKSPACE_PROVIDER === "local" &&
  isLoopbackHost(new URL(context.env.GITHUB_URL).hostname);
