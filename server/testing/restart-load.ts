import { sql } from "drizzle-orm";
import { createDb } from "../../db/client.ts";

// The child process of client-restarts.test.ts: transactions in a loop through createDb while
// the test restarts the server. It prints one JSON line a second; an uncaught error ends it.

const database = createDb(process.env.LOAD_DATABASE_URL!, { max: 10 });
await database.sql`create table if not exists restart_load (id serial primary key, v text)`;
let committed = 0;
let failed = 0;
const began = new Array<number>(20).fill(0);

async function loop(slot: number): Promise<never> {
  for (;;) {
    began[slot] = Date.now();
    try {
      // Several statements per transaction: a restart lands mid-transaction, and postgres.js
      // then writes its own ROLLBACK on the closed connection (porsager/postgres#1208).
      await database.db.transaction(async (tx) => {
        await tx.execute(sql`insert into restart_load (v) values ('a')`);
        await tx.execute(sql`select pg_sleep(0.02)`);
        await tx.execute(sql`insert into restart_load (v) values ('b')`);
      });
      committed++;
    } catch {
      failed++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

for (let slot = 0; slot < began.length; slot++) void loop(slot);
setInterval(() => {
  const oldest = Math.max(...began.map((at) => Date.now() - at));
  process.stdout.write(`${JSON.stringify({ msg: "load", committed, failed, oldestMs: oldest })}\n`);
}, 1_000);
