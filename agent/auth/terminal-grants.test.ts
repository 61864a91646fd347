import { accessEndedCloseCode } from "../../protocol/agent-protocol.ts";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTerminalGrants,
  loadTerminalGrants,
  terminalGrantsFileOf,
  type Closable,
} from "./terminal-grants.ts";

// The agent's memory of redeemed terminal links, in a real state folder: what survives a
// restart, what an unreadable file costs, and that the memory stays bounded.

const minute = 60_000;
let stateDir: string;
let clock = Date.now();
const now = () => clock;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), "caw-grants-"));
});
afterAll(() => rm(stateDir, { recursive: true, force: true }));

const link = (overrides: Partial<{ issuedAt: number; linkMinutes: number }> = {}) => ({
  id: randomUUID(),
  issuedAt: overrides.issuedAt ?? clock,
  linkExpiresAt: clock + (overrides.linkMinutes ?? 5) * minute,
  cookieExpiresAt: clock + 8 * 60 * minute,
});

function fakeSocket() {
  const socket = {
    closedWith: null as number | null,
    listeners: [] as (() => void)[],
    close(code: number) {
      socket.closedWith = code;
      for (const listener of socket.listeners) listener();
    },
    once(_event: "close", listener: () => void) {
      socket.listeners.push(listener);
    },
  };
  return socket satisfies Closable;
}

describe("terminal grants", () => {
  it("survive a restart: a used link stays used and its cookie keeps counting", async () => {
    const file = terminalGrantsFileOf(path.join(stateDir, "restart"));
    const before = await loadTerminalGrants({ file, now });
    const grant = link();
    expect(await before.redeem(grant)).toBe("redeemed");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);

    const after = await loadTerminalGrants({ file, now });
    expect(await after.redeem(grant)).toBe("used");
    expect(after.holds(grant.id)).toBe(true);
    await after.end([grant.id]);
    const again = await loadTerminalGrants({ file, now });
    expect(again.holds(grant.id)).toBe(false);
    expect(await again.redeem(grant)).toBe("used");
  });

  it("end every cookie and refuse older links when the file is unreadable", async () => {
    const file = terminalGrantsFileOf(path.join(stateDir, "corrupt"));
    const first = await loadTerminalGrants({ file, now });
    const grant = link();
    await first.redeem(grant);
    await writeFile(file, "{ not json");
    const problems: string[] = [];
    const after = await loadTerminalGrants({ file, now, log: (line) => problems.push(line) });
    expect(problems.join("\n")).toContain("unreadable");
    expect(after.holds(grant.id)).toBe(false);
    expect(await after.redeem(link({ issuedAt: clock - 1_000 }))).toBe("used");
    clock += 1_000;
    expect(await after.redeem(link())).toBe("redeemed");
  });

  it("forget a grant only once its link and its cookie are both over", async () => {
    const grants = createTerminalGrants({ now });
    const ended = link();
    const expiring = link();
    await grants.redeem(ended);
    await grants.redeem(expiring);
    await grants.end([ended.id]);
    clock += 4 * minute;
    expect(await grants.redeem(ended)).toBe("used"); // ended, but the link is still valid
    clock += 2 * minute;
    expect(await grants.redeem(ended)).toBe("redeemed"); // forgotten: the link itself expired
    expect(grants.holds(expiring.id)).toBe(true);
    clock += 8 * 60 * minute;
    await grants.sweep();
    expect(grants.held()).toEqual([]);
  });

  it("close the sockets of an ended grant with 4001, and only those", async () => {
    const grants = createTerminalGrants({ now });
    const [mine, theirs] = [link(), link()];
    await grants.redeem(mine);
    await grants.redeem(theirs);
    const [a, b, c] = [fakeSocket(), fakeSocket(), fakeSocket()];
    grants.track(mine.id, a);
    grants.track(mine.id, b);
    grants.track(theirs.id, c);
    await grants.end([mine.id]);
    expect([a.closedWith, b.closedWith, c.closedWith]).toEqual([
      accessEndedCloseCode,
      accessEndedCloseCode,
      null,
    ]);
    const late = fakeSocket();
    grants.track(mine.id, late);
    expect(late.closedWith).toBe(accessEndedCloseCode);
    clock += 8 * 60 * minute + 1;
    await grants.sweep();
    expect(c.closedWith).toBe(accessEndedCloseCode);
  });

  it("write nothing a token or cookie could be rebuilt from", async () => {
    const file = terminalGrantsFileOf(path.join(stateDir, "contents"));
    const grants = await loadTerminalGrants({ file, now });
    const grant = link();
    await grants.redeem(grant);
    const saved = JSON.parse(await readFile(file, "utf8")) as { grants: Record<string, unknown> };
    expect(Object.keys(saved.grants)).toEqual([grant.id]);
    expect(Object.keys(saved.grants[grant.id]!).sort()).toEqual([
      "cookieExpiresAt",
      "ended",
      "linkExpiresAt",
    ]);
  });
});
