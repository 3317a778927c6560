/**
 * The committed schema/schema.graphql is what the code emits now, and every type and field of
 * the API carries a description (clients read them).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  GraphQLNamedType,
  GraphQLScalarType,
  GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
} from 'graphql';
import * as graphqlScalars from 'graphql-scalars';
import { printApiSchema } from '../src/api/emit-schema';
import { buildApiSchema } from '../src/api/schema';

const SCHEMA_FILE = path.join(__dirname, '../schema/schema.graphql');

/** Scalars from graphql-scalars bring their own descriptions. */
const libraryScalars = new Set(
  Object.values(graphqlScalars)
    .filter((v) => isScalarType(v))
    .map((s) => (s as GraphQLScalarType).name),
);

/** Every type of ours, without GraphQL's built-ins and introspection types or library scalars. */
function ownTypes(schema: GraphQLSchema): GraphQLNamedType[] {
  return Object.values(schema.getTypeMap()).filter(
    (t) => !isIntrospectionType(t) && !isSpecifiedScalarType(t) && !(isScalarType(t) && libraryScalars.has(t.name)),
  );
}

/** "Type" and "Type.field" for everything that lacks a description. */
function undescribed(schema: GraphQLSchema): string[] {
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(Boolean).map((t) => t!.name));
  const missing: string[] = [];
  const blank = (d: string | null | undefined) => !d || d.trim() === '';
  for (const type of ownTypes(schema)) {
    // Query, Mutation and Subscription are containers: their fields are what clients read, and
    // type-graphql gives no way to describe the root types themselves.
    if (!roots.has(type.name) && blank(type.description)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (blank(field.description)) missing.push(`${type.name}.${field.name}`);
      }
    } else if (!isEnumType(type) && !isUnionType(type) && !isScalarType(type)) {
      missing.push(`${String(type)}: unexpected kind of type`);
    }
  }
  return missing.sort();
}

describe('GraphQL schema', () => {
  it('schema/schema.graphql is up to date with the code', async () => {
    const committed = fs.readFileSync(SCHEMA_FILE, 'utf8');
    const emitted = await printApiSchema();
    if (committed !== emitted) {
      throw new Error(
        'schema/schema.graphql is stale: it differs from what the code emits. Run `npm run schema:emit` and commit the result.\n' +
          firstDifference(committed, emitted),
      );
    }
  });

  it('gives every type and field of the API a description', async () => {
    expect(undescribed(await buildApiSchema())).toEqual([]);
  });

  it('the committed SDL also describes every type and field', () => {
    expect(undescribed(buildSchema(fs.readFileSync(SCHEMA_FILE, 'utf8')))).toEqual([]);
  });

  it('the description check notices a missing description', () => {
    const schema = buildSchema(`
      """A thing."""
      type Thing { """Described."""
        a: Int
        b: Int }
      input Bare { x: Int }
      type Query { """The thing."""
        thing(filter: Bare): Thing }
    `);
    expect(undescribed(schema)).toEqual(['Bare', 'Bare.x', 'Thing.b']);
  });
});

/** The first differing line, to say where the stale file starts to differ. */
function firstDifference(committed: string, emitted: string): string {
  const a = committed.split('\n');
  const b = emitted.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `first difference at line ${i + 1}:\n  committed: ${JSON.stringify(a[i])}\n  emitted:   ${JSON.stringify(b[i])}`;
  }
  return '';
}
