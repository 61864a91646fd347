import type { ServerResponse } from "node:http";
import type { ProblemDetails } from "../errors.ts";

/** Sends an RFC 7807 `application/problem+json` answer. */
export function sendProblem(res: ServerResponse, problem: ProblemDetails): void {
  res.statusCode = problem.status;
  res.setHeader("content-type", "application/problem+json");
  res.setHeader("cache-control", "no-store");
  res.end(JSON.stringify(problem));
}
