/**
 * The operation limits as pure rules (no broker): graphql-armor's depth and alias rules and our
 * cost rule each cost a fragment once, so documents whose spreads fan out 2^40 ways are answered
 * at once (an exponential walk would never finish inside jest's timeout); the numbers they give
 * follow the documented model; introspection counts; tokens are bounded by the parser; and every
 * list argument `first` of the real schema has the declared range.
 */
import { buildSchema, GraphQLError, GraphQLSchema, isListType, isNonNullType, isObjectType, getNamedType } from 'graphql';
import { PAGE_SIZE } from '../../src/domain/page-size';
import { Limits } from '../../src/api/limits';
import { createOperationGate } from '../../src/api/operation-gate';
import { buildApiSchema } from '../../src/api/schema';

const toy = buildSchema(`
  type Query {
    node: Node
    nodes(first: Int): [Node]
    page(first: Int): Page
    defaulted(first: Int = 6): [Node]
    search(ids: [Int]): [Node]
  }
  type Node { name: String, child: Node, children: [Node] }
  type Page { nodes: [Node], total: Int }
`);

const LIMITS: Limits = { maxDepth: 6, maxCost: 5000, maxAliases: 5, maxTokens: 1000 };

function errorsOf(query: string, options: { schema?: GraphQLSchema; limits?: Partial<Limits>; variables?: Record<string, unknown>; introspection?: boolean } = {}): GraphQLError[] {
  const gate = createOperationGate(options.schema ?? toy, { ...LIMITS, ...options.limits }, options.introspection ?? true);
  const prepared = gate.prepare(query, undefined, options.variables);
  return 'errors' in prepared ? [...prepared.errors] : [];
}

const ruleOf = (query: string, options?: Parameters<typeof errorsOf>[1]) => errorsOf(query, options).map((e) => e.extensions.rule ?? e.extensions.code);

/** The cost the rule computes, read back from its refusal at a limit of 10 (the minimum config allows). */
function costOf(query: string, variables?: Record<string, unknown>): number {
  const refusal = errorsOf(query, { limits: { maxCost: 10, maxDepth: 50, maxAliases: 1000 }, variables }).find((e) => e.extensions.rule === 'maxCost');
  if (!refusal) return Number.NaN; // at most 10
  return Number(/query cost (\d+)/.exec(refusal.message)![1]);
}

/** `levels` fragments, each spreading the next twice: 2^levels copies of `leaf`, in a few hundred bytes. */
function fanOut(levels: number, type: string, leaf: string, root = `{ ...F0 }`): string {
  const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on ${type} { ...F${i + 1} ...F${i + 1} }`);
  return [root, ...fragments, `fragment F${levels} on ${type} { ${leaf} }`].join('\n');
}

describe('depth (graphql-armor max-depth)', () => {
  it('answers a 2^40-way fragment fan-out at once, and refuses it when its one path is too deep', () => {
    const deep = fanOut(40, 'Node', 'child { child { child { child { child { name } } } } }', '{ node { ...F0 } }');
    expect(ruleOf(deep)).toContain('maxDepth');
    expect(errorsOf(deep).find((e) => e.extensions.rule === 'maxDepth')?.message).toBe('query depth 7 exceeds the limit of 6');
  });

  it('counts a memoised fragment at every depth it is spread at', () => {
    // A first under node: node > child > child > name = 4 (this is when A and B are memoised);
    // then under node > child > child: 3 + 3 = 6.
    const query = `{ node { ...A child { child { ...A } } } }
      fragment A on Node { child { ...B } }
      fragment B on Node { child { name } }`;
    expect(errorsOf(query, { limits: { maxDepth: 6 } })).toEqual([]);
    expect(ruleOf(query, { limits: { maxDepth: 5 } })).toEqual(['maxDepth']);
  });

  it('counts introspection fields', () => {
    const introspection = '{ __schema { types { fields { type { ofType { ofType { name } } } } } } }'; // depth 7
    expect(ruleOf(introspection)).toEqual(['maxDepth']);
    expect(errorsOf(introspection, { limits: { maxDepth: 7 } })).toEqual([]);
  });
});

describe('aliases (graphql-armor max-aliases)', () => {
  it('counts aliases at and over the limit, through fragments', () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: node { name }`).join(' ')} }`;
    expect(errorsOf(aliases(5))).toEqual([]);
    expect(ruleOf(aliases(6))).toEqual(['maxAliases']);
    expect(ruleOf('{ ...A ...A } fragment A on Query { a: node { name } b: node { name } c: node { name } }')).toEqual(['maxAliases']);
    expect(errorsOf('{ a: __typename b: __typename c: __typename d: __typename e: __typename f: __typename }')).toEqual([]);
  });

  it('answers a 2^40-way fan-out of one alias at once', () => {
    expect(ruleOf(fanOut(40, 'Node', 'a: name', '{ node { ...F0 } }'))).toContain('maxAliases');
  });
});

describe('cost (cost-limit.rule.ts)', () => {
  it('follows the model: fields 1, lists times first or 10, a connection\'s first sizes its lists', () => {
    expect(costOf('{ nodes(first: 7) { name child { name } } }')).toBe(7 * (1 + 1 + 2));
    expect(costOf('{ node { children { name } } }')).toBe(1 + 10 * (1 + 1));
    expect(costOf('{ defaulted { name } }')).toBe(6 * 2);
    expect(costOf('{ page(first: 7) { nodes { name } total } }')).toBe(1 + 7 * 2 + 1);
    expect(costOf('{ page { nodes { name } } }')).toBe(1 + 10 * 2);
    // One fragment, memoised, under two connections of different sizes.
    expect(costOf('{ a: page(first: 7) { ...P } b: page(first: 3) { ...P } } fragment P on Page { nodes { name } }')).toBe(1 + 7 * 2 + 1 + 3 * 2);
  });

  it('reads first from variables and their defaults', () => {
    expect(costOf('query($n: Int) { nodes(first: $n) { name } }', { n: 400 })).toBe(800);
    expect(costOf('query($n: Int = 300) { nodes(first: $n) { name } }')).toBe(600);
  });

  it('counts introspection fields', () => {
    expect(costOf('{ __schema { types { fields { name } } } }')).toBe(1 + 10 * (1 + 10 * 2));
  });

  it('answers a 2^60-way fan-out at once and refuses it, the cost saturating instead of overflowing', () => {
    const errors = errorsOf(fanOut(60, 'Query', 'node { name }'));
    expect(errors.map((e) => e.extensions.rule)).toEqual(['maxCost']);
    expect(errors[0].message).toBe(`query cost ${Number.MAX_SAFE_INTEGER} exceeds the limit of 5000`);
  });

  it.each([0, -1, -1_000_000, PAGE_SIZE.max + 1, 2_147_483_647])('refuses first: %d as BAD_USER_INPUT naming the argument, literal or variable', (n) => {
    for (const errors of [errorsOf(`{ nodes(first: ${n}) { name } }`), errorsOf('query($n: Int) { page(first: $n) { total } }', { variables: { n } })]) {
      expect(errors).toHaveLength(1);
      expect(errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first', rule: `must be between ${PAGE_SIZE.min} and ${PAGE_SIZE.max}` });
    }
  });

  it('accepts the ends of the range', () => {
    expect(errorsOf(`{ a: nodes(first: ${PAGE_SIZE.min}) { name } b: nodes(first: ${PAGE_SIZE.max}) { name } }`)).toEqual([]);
  });
});

describe('tokens (graphql-js parse maxTokens)', () => {
  // `{ search(ids: [ ... ]) { name } }` is 12 tokens around the list (commas are not tokens).
  const withTokens = (n: number) => `{ search(ids: [${Array.from({ length: n - 12 }, (_, i) => i).join(', ')}]) { name } }`;
  it('parses a document at the limit and stops the parser one token over', () => {
    expect(errorsOf(withTokens(1000))).toEqual([]);
    const errors = errorsOf(withTokens(1001));
    expect(errors.map((e) => e.extensions)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxTokens' }]);
  });
});

describe('the introspection switch', () => {
  it('refuses __schema and __type when off and still answers __typename', () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Node") { name } }']) {
      const errors = errorsOf(query, { introspection: false });
      expect(errors.length).toBeGreaterThan(0);
      for (const e of errors) expect({ code: e.extensions.code, message: e.message }).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', message: expect.stringMatching(/introspection/i) });
    }
    expect(errorsOf('{ __typename }', { introspection: false })).toEqual([]);
  });
});

describe('list arguments of the broker schema', () => {
  it('every `first` is an Int with a default inside PAGE_SIZE, on a list or a connection of lists', async () => {
    const schema = await buildApiSchema();
    const seen: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        const first = field.args.find((a) => a.name === 'first');
        if (!first) continue;
        seen.push(`${type.name}.${field.name}`);
        expect({ field: field.name, type: String(first.type) }).toEqual({ field: field.name, type: 'Int' });
        expect(first.defaultValue).toEqual(expect.any(Number));
        expect(first.defaultValue as number).toBeGreaterThanOrEqual(PAGE_SIZE.min);
        expect(first.defaultValue as number).toBeLessThanOrEqual(PAGE_SIZE.max);
        const returned = isNonNullType(field.type) ? field.type.ofType : field.type;
        const named = getNamedType(field.type);
        const isConnection = isObjectType(named) && Object.values(named.getFields()).some((f) => isListType(isNonNullType(f.type) ? f.type.ofType : f.type));
        expect({ field: field.name, listOrConnection: isListType(returned) || isConnection }).toEqual({ field: field.name, listOrConnection: true });
      }
    }
    expect(seen.sort()).toEqual(['Query.auditLog', 'Query.cloneJobs', 'Query.samples', 'Query.scaleDownJobs', 'Query.scalingDecisions', 'Query.standbyImages']);
  });
});
