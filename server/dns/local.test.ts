import { describe, expect, it } from "vitest";
import { createLocalDns } from "./local.ts";

describe("local DNS", () => {
  it("answers ws-{id}.localhost with the agent's port and writes nothing", async () => {
    const dns = createLocalDns();
    expect(await dns.upsertRecord({ name: "ws-42", ipv4: "127.0.0.1", port: 41234 })).toEqual({
      hostname: "ws-42.localhost:41234",
    });
    await expect(dns.upsertRecord({ name: "ws-42", ipv4: "127.0.0.1" })).rejects.toThrow(
      "needs the agent's port",
    );
    await expect(dns.deleteRecord("ws-42")).resolves.toBeUndefined();
  });
});
