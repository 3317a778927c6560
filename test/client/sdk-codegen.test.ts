/**
 * The committed SDK (client/sdk/generated/graphql.ts) is what `npm run sdk:generate` makes now
 * from schema/schema.graphql and client/sdk/documents: a schema change that breaks an operation
 * of the CLI or the dashboard fails here, and so does forgetting to regenerate. Runs the same
 * graphql-codegen command as the script, into a temporary file.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '../..');
const COMMITTED = path.join(ROOT, 'client/sdk/generated/graphql.ts');

describe('generated SDK', () => {
  it('client/sdk/generated/graphql.ts is up to date with the schema and the documents', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-codegen-'));
    try {
      const out = path.join(dir, 'graphql.ts');
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules/@graphql-codegen/cli/esm/bin.js'), '--config', 'client/sdk/codegen.config.ts'], {
        cwd: ROOT,
        env: { ...process.env, SDK_GENERATED_FILE: out },
        stdio: 'pipe',
      });
      const generated = fs.readFileSync(out, 'utf8');
      const committed = fs.readFileSync(COMMITTED, 'utf8');
      if (committed !== generated) {
        const a = committed.split('\n');
        const b = generated.split('\n');
        const line = a.findIndex((l, i) => l !== b[i]);
        throw new Error(
          'client/sdk/generated/graphql.ts is stale: run `npm run sdk:generate` and commit the result.\n' +
            `first difference at line ${line + 1}:\n  committed: ${JSON.stringify(a[line])}\n  generated: ${JSON.stringify(b[line])}`,
        );
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
