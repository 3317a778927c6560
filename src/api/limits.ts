/**
 * The limits every operation passes, over HTTP and WebSocket alike, before any authentication
 * work: tokens (graphql-js's parser stops itself), depth and aliases (graphql-armor's rules, which
 * memoise each fragment, so linear in the document), cost (cost-limit.rule.ts). Introspection
 * fields count. A refusal is GRAPHQL_VALIDATION_FAILED with `extensions.rule` naming the limit.
 */
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { ASTNode, GraphQLError, ParseOptions, ValidationContext, ValidationRule } from 'graphql';

export interface Limits {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  maxTokens: number;
}

export type LimitRule = 'maxDepth' | 'maxCost' | 'maxAliases' | 'maxTokens' | 'maxSubscriptionsPerConnection';

export function limitError(rule: LimitRule, message: string, node?: ASTNode): GraphQLError {
  return new GraphQLError(message, { nodes: node ? [node] : undefined, extensions: { code: 'GRAPHQL_VALIDATION_FAILED', rule } });
}

export function parseOptions(limits: Limits): ParseOptions {
  return { maxTokens: limits.maxTokens };
}

/** Depth and alias limits as validation rules. */
export function documentLimitRules(limits: Limits): ValidationRule[] {
  // armor throws by default (and prefixes "Syntax Error"); report our own error instead.
  const reject = (rule: LimitRule, describe: (found: string | undefined) => string) => [
    (context: ValidationContext | null, err: GraphQLError) => context?.reportError(limitError(rule, describe(/found (\d+)/.exec(err.message)?.[1]))),
  ];
  return [
    maxDepthRule({
      n: limits.maxDepth,
      // armor skips `__schema` by default; nesting inside it is exactly what must be bounded.
      ignoreIntrospection: false,
      // Depth counts fields only: a fragment spread is not a level of the response.
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: reject('maxDepth', (found) => `query depth ${found ? `${found} ` : ''}exceeds the limit of ${limits.maxDepth}`),
    }),
    maxAliasesRule({
      n: limits.maxAliases,
      propagateOnRejection: false,
      onReject: reject('maxAliases', (found) => `operation uses ${found ?? 'more'} aliases, over the limit of ${limits.maxAliases}`),
    }),
  ];
}

/** graphql-js's parse error for a document over `maxTokens` ("more that N tokens", sic), as our limit error; null for any other message. */
export function tokenLimitErrorFor(message: string): GraphQLError | null {
  const over = /^Syntax Error: Document contains more th(?:at|an) (\d+) tokens/.exec(message);
  return over ? limitError('maxTokens', `document has more than ${over[1]} tokens, the limit`) : null;
}
