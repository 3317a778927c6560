/** Writes schema/schema.graphql from the code (`npm run schema:emit`); a test fails when it is stale. */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildApiSchema } from './schema';

export async function printApiSchema(): Promise<string> {
  const schema = await buildApiSchema();
  return `# Generated from the code by \`npm run schema:emit\`; do not edit by hand.\n\n${printSchema(lexicographicSortSchema(schema))}\n`;
}

if (require.main === module) {
  void printApiSchema().then((sdl) => {
    const file = path.resolve(__dirname, '../../../schema/schema.graphql');
    fs.writeFileSync(file, sdl);
    console.log(`wrote ${file}`);
  });
}
