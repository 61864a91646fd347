import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

// The import direction of SPEC §3 is enforced by eslint.config.js; these cases prove the
// rule fires (a typo in a glob would otherwise silently allow everything).
const eslint = new ESLint();

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === "@typescript-eslint/no-restricted-imports")
    .map((message) => message.message);
}

describe("import boundaries", () => {
  it.each([
    ["db/example.ts", 'import { x } from "../server/env.ts";\nexport const y = x;\n'],
    ["cloud-init/example.ts", 'import { x } from "../db/schema.ts";\nexport const y = x;\n'],
    ["server/example.ts", 'import { x } from "../app/root.tsx";\nexport const y = x;\n'],
    ["agent/example.ts", 'import { x } from "../server/env.ts";\nexport const y = x;\n'],
    ["app/routes/example.tsx", 'import { x } from "../../server/env.ts";\nexport const y = x;\n'],
    ["app/lib/example.server.ts", 'import { x } from "../../db/client.ts";\nexport const y = x;\n'],
  ])("refuses %s importing against the flow", async (filePath, code) => {
    expect(await boundaryErrors(filePath, code)).toHaveLength(1);
  });

  it.each([
    ["server/example.ts", 'import { x } from "../db/schema.ts";\nexport const y = x;\n'],
    [
      "app/lib/example.server.ts",
      'import { x } from "../../server/env.ts";\nexport const y = x;\n',
    ],
    [
      "app/routes/example.tsx",
      'import type { AppRouter } from "../../server/trpc/root.ts";\nexport type Y = AppRouter;\n',
    ],
  ])("allows %s importing with the flow", async (filePath, code) => {
    expect(await boundaryErrors(filePath, code)).toEqual([]);
  });
});
