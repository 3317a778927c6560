/**
 * What every operation passes before it runs, whatever the transport: one set of parse options,
 * validation rules and limits. Over HTTP, Apollo parses and validates with these and the request
 * plugin calls `checkWithVariables`; over WebSocket, `prepare` does all three the same way and
 * gives errors the codes Apollo gives them.
 */
import { DocumentNode, getOperationAST, GraphQLError, GraphQLSchema, Kind, NoSchemaIntrospectionCustomRule, parse, ParseOptions, specifiedRules, validate, ValidationRule } from 'graphql';
import { costLimitRule } from './cost-limit.rule';
import { documentLimitRules, Limits, parseOptions, tokenLimitErrorFor } from './limits';

export interface OperationGate {
  parseOptions: ParseOptions;
  /** Rules beyond graphql-js's specified ones. */
  validationRules: ValidationRule[];
  /** The limits that need the request's variables (cost, `first` ranges); run after validation. */
  checkWithVariables(document: DocumentNode, operationName: string | null | undefined, variables: Readonly<Record<string, unknown>> | null | undefined): readonly GraphQLError[];
  /** Parse, validate and check, as the HTTP path does. */
  prepare(query: string, operationName: string | null | undefined, variables: Readonly<Record<string, unknown>> | null | undefined): { document: DocumentNode } | { errors: readonly GraphQLError[] };
}

export function createOperationGate(schema: GraphQLSchema, limits: Limits, introspection: boolean): OperationGate {
  const options = parseOptions(limits);
  const validationRules = [...documentLimitRules(limits), ...(introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  // Documents that passed the variable-dependent limits without declaring any variable: their
  // answer cannot change between requests. Apollo hands over the same DocumentNode for the same
  // query text (its document store), so a repeated query skips this walk; keyed weakly, the
  // entries go when Apollo's store lets the document go. Refusals are not cached: they are rare,
  // and their error objects must not be shared between requests.
  const passedWithoutVariables = new WeakMap<DocumentNode, Set<string | null>>();
  const checkWithVariables: OperationGate['checkWithVariables'] = (document, operationName, variables) => {
    const name = operationName ?? null;
    if (passedWithoutVariables.get(document)?.has(name)) return [];
    const refused = validate(schema, document, [costLimitRule({ maxCost: limits.maxCost, operationName, variables })]);
    if (refused.length === 0 && !declaresVariables(document)) {
      const names = passedWithoutVariables.get(document) ?? new Set();
      names.add(name);
      passedWithoutVariables.set(document, names);
    }
    return refused;
  };
  return {
    parseOptions: options,
    validationRules,
    checkWithVariables,
    prepare(query, operationName, variables) {
      let document: DocumentNode;
      try {
        document = parse(query, options);
      } catch (err) {
        const message = err instanceof GraphQLError ? err.message : 'the query could not be parsed';
        return { errors: [tokenLimitErrorFor(message) ?? withCode(err instanceof GraphQLError ? err : new GraphQLError(message), 'GRAPHQL_PARSE_FAILED')] };
      }
      const invalid = validate(schema, document, [...specifiedRules, ...validationRules]);
      if (invalid.length > 0) return { errors: invalid.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED')) };
      if (!getOperationAST(document, operationName ?? undefined)) {
        const message = operationName ? `Unknown operation named "${operationName}".` : 'Must provide operation name if query contains multiple operations.';
        return { errors: [new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })] };
      }
      const refused = checkWithVariables(document, operationName, variables);
      return refused.length > 0 ? { errors: refused } : { document };
    },
  };
}

/** Whether any operation of the document declares a variable (fragments cannot). */
function declaresVariables(document: DocumentNode): boolean {
  return document.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && (d.variableDefinitions?.length ?? 0) > 0);
}

/** The error with `extensions.code` set (kept when it already has one, e.g. a limit's). */
function withCode(err: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(err.message, {
    nodes: err.nodes,
    source: err.source,
    positions: err.positions,
    path: err.path,
    originalError: err.originalError,
    extensions: { ...err.extensions, code: err.extensions.code ?? code },
  });
}
