import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError } from "../errors.ts";
import type { TrpcContext } from "./context.ts";
import { publicProcedure, router } from "./init.ts";

// A router built with the real builders, served by the real fetch adapter, to check how
// errors reach a client.
const testRouter = router({
  missing: publicProcedure.query(() => {
    throw new AppError("NOT_FOUND", "No workspace with that id. List yours with workspaces.list.");
  }),
  taken: publicProcedure.mutation(() => {
    throw new AppError("CONFLICT", "You already have one named x. Pick another name.", {
      field: "name",
    });
  }),
  broken: publicProcedure.query(() => {
    throw new Error("connect ECONNREFUSED postgres://app:secret@db");
  }),
  // As drizzle throws it when PostgreSQL restarts mid-query (ADR 0025).
  restarting: publicProcedure.mutation(() => {
    const shutdown = Object.assign(
      new Error("terminating connection due to administrator command"),
      {
        code: "57P01",
      },
    );
    throw new Error("Failed query: insert into workspaces …", { cause: shutdown });
  }),
  rename: publicProcedure
    .input(z.object({ name: z.string().min(3, { error: "must be at least 3 characters" }) }))
    .mutation(({ input }) => input.name),
});

async function call(
  path: string,
  init?: RequestInit,
  createContext: () => Promise<TrpcContext> = async () => ({}) as TrpcContext,
) {
  const response = await fetchRequestHandler({
    endpoint: "/api/trpc",
    req: new Request(`http://localhost/api/trpc/${path}`, init),
    router: testRouter,
    createContext,
  });
  const body = (await response.json()) as {
    error: { json: { message: string; data: Record<string, unknown> } };
  };
  return { status: response.status, error: body.error.json };
}

describe("tRPC error mapping", () => {
  it("maps an AppError to its code, status and message", async () => {
    const { status, error } = await call("missing");
    expect(status).toBe(404);
    expect(error.data.code).toBe("NOT_FOUND");
    expect(error.message).toBe("No workspace with that id. List yours with workspaces.list.");
  });

  it("turns an unknown error into a generic 500 without its details or stack", async () => {
    const { status, error } = await call("broken");
    expect(status).toBe(500);
    expect(error.message).not.toContain("secret");
    expect(error.message).toMatch(/Something went wrong on our side/);
    expect(error.data.stack).toBeUndefined();
  });

  it("answers a database outage in a procedure with 503 SERVICE_UNAVAILABLE and what to do", async () => {
    const { status, error } = await call("restarting", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(status).toBe(503);
    expect(error.data.code).toBe("SERVICE_UNAVAILABLE");
    expect(error.message).toMatch(/not reachable right now .* Try again in a few seconds/);
  });

  it("answers a database outage while the context is made (the caller's token) with 503 too", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
      code: "ECONNREFUSED",
    });
    const { status, error } = await call("missing", undefined, () => Promise.reject(refused));
    expect(status).toBe(503);
    expect(error.data).toMatchObject({ code: "SERVICE_UNAVAILABLE", httpStatus: 503 });
    expect(error.message).not.toContain("5432");
  });

  it("says which input field is wrong and why", async () => {
    const { status, error } = await call("rename", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ json: { name: "x" } }),
    });
    expect(status).toBe(400);
    expect(error.message).toBe("Invalid input: name: must be at least 3 characters");
  });

  it("names the field a service refused, in the shape of zod's issues", async () => {
    const { status, error } = await call("taken", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({}),
    });
    expect(status).toBe(409);
    expect(error.message).toBe("You already have one named x. Pick another name.");
    expect(error.data.issues).toEqual([
      {
        code: "custom",
        path: ["name"],
        message: "You already have one named x. Pick another name.",
      },
    ]);
  });
});
