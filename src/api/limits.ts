/**
 * Depth and cost limits for operations over HTTP and WebSocket alike. Cost: every field 1,
 * list fields times their `first` argument where they have one (else 10).
 */
import {
  DocumentNode,
  FragmentDefinitionNode,
  GraphQLError,
  GraphQLOutputType,
  GraphQLSchema,
  isListType,
  isNonNullType,
  Kind,
  OperationDefinitionNode,
  SelectionSetNode,
} from 'graphql';
import { getComplexity, simpleEstimator, fieldExtensionsEstimator, ComplexityEstimator } from 'graphql-query-complexity';

export interface Limits {
  maxDepth: number;
  maxCost: number;
}

function depthOf(selectionSet: SelectionSetNode | undefined, fragments: Map<string, FragmentDefinitionNode>, seen: Set<string>): number {
  if (!selectionSet) return 0;
  let max = 0;
  for (const sel of selectionSet.selections) {
    if (sel.kind === Kind.FIELD) {
      if (sel.name.value.startsWith('__')) continue;
      max = Math.max(max, 1 + depthOf(sel.selectionSet, fragments, seen));
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      max = Math.max(max, depthOf(sel.selectionSet, fragments, seen));
    } else {
      const name = sel.name.value;
      const frag = fragments.get(name);
      if (!frag || seen.has(name)) continue;
      max = Math.max(max, depthOf(frag.selectionSet, fragments, new Set(seen).add(name)));
    }
  }
  return max;
}

const isList = (type: GraphQLOutputType): boolean => isListType(isNonNullType(type) ? type.ofType : type);

const listEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (!isList(field.type)) return undefined;
  const n = typeof args.first === 'number' ? args.first : 10;
  return n * (1 + childComplexity);
};

/** Errors for an operation that is too deep or too costly; empty when it is fine. */
export function checkLimits(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | undefined, limits: Limits): GraphQLError[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    if (def.kind === Kind.OPERATION_DEFINITION && (!operationName || def.name?.value === operationName)) operation ??= def;
  }
  if (!operation) return [];
  const errors: GraphQLError[] = [];
  const depth = depthOf(operation.selectionSet, fragments, new Set());
  if (depth > limits.maxDepth) {
    errors.push(new GraphQLError(`query depth ${depth} exceeds the limit of ${limits.maxDepth}`, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxDepth' } }));
  }
  let cost = 0;
  try {
    cost = getComplexity({
      schema,
      query: document,
      operationName: operationName ?? undefined,
      variables: variables ?? {},
      estimators: [fieldExtensionsEstimator(), listEstimator, simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch {
    // Unknown operation or bad variables: GraphQL's own validation reports those.
    return errors;
  }
  if (cost > limits.maxCost) {
    errors.push(new GraphQLError(`query cost ${cost} exceeds the limit of ${limits.maxCost}`, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxCost' } }));
  }
  return errors;
}
