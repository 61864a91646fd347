import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type DatabaseHandle } from "../../db/client.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";

// postgres.js 3.4.9 counts a query's rows in a variable of the connection that only a
// completed query resets (porsager/postgres#1119, #1181). A query that fails after some of its
// rows arrived (an error on a row, or the server ending the session mid-answer, as a restart
// does) left the count behind, and the connection's next query, on that socket or the next
// one, resolved with that many holes before its rows: `const [row] = rows` was undefined, so
// a live API token read as unknown and its caller got a 401 during a restart (ADR 0025).
// The patch resets the count with each answer and with the socket.

describe("postgres.js row counting after a failed query", () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
    // One connection: the next query is the one that meets what the failed one left.
    handle = createDb(database.url, { max: 1 });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  it("answers the next query on the connection with its rows only", async () => {
    const { sql } = handle;
    const failing = sql`select i, 1 / (4 - i) as boom from generate_series(1, 10) i`;
    const next = sql`select x from generate_series(1, 5) x`;
    await expect(failing).rejects.toThrow(/division by zero/);
    const rows = await next;
    expect(rows.length).toBe(5);
    expect([...rows]).toEqual([1, 2, 3, 4, 5].map((x) => ({ x })));
  });

  it("answers the first query on the next socket with its rows only, after a session ended mid-answer", async () => {
    const { sql } = handle;
    // The backend ends its own session at the third row: two rows are sent, then FATAL 57P01.
    const ended = sql`
      select i, case when i = 3 then pg_terminate_backend(pg_backend_pid()) end as ended
      from generate_series(1, 5) i`;
    await expect(ended).rejects.toThrow();
    const rows = await sql`select 1 as x`;
    expect(rows.length).toBe(1);
    expect(rows[0]).toEqual({ x: 1 });
  });
});
