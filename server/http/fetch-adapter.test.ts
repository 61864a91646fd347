import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { requestUrlOf } from "./fetch-adapter.ts";

const origin = "https://caw.example";
const urlOf = (target: string) => requestUrlOf({ url: target } as IncomingMessage, origin)?.href;

describe("a request's URL", () => {
  it("is its path and query on PUBLIC_URL's origin", () => {
    expect(urlOf("/workspaces?tab=all")).toBe("https://caw.example/workspaces?tab=all");
    expect(urlOf("/%2F%2Fother.example")).toBe("https://caw.example/%2F%2Fother.example");
  });

  it("never takes another origin from the request target", () => {
    expect(urlOf("//other.example/healthz")).toBe("https://caw.example/healthz");
    expect(urlOf("/\\other.example/x?a=1")).toBe("https://caw.example/x?a=1");
    expect(urlOf("http://other.example/auth/callback?code=1")).toBe(
      "https://caw.example/auth/callback?code=1",
    );
  });

  it("is undefined for a target that is no URL", () => {
    expect(urlOf("http://[x/")).toBeUndefined();
  });
});
