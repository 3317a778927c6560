/**
 * The broker's cost model as a validation rule: every field 1; a list field times its `first`
 * argument (a connection's `first` applies to the lists directly beneath it), else times 10.
 * Introspection fields count like any other. Every `first` must lie in PAGE_SIZE; one outside it
 * is BAD_USER_INPUT naming the argument, so no argument can make a cost negative or huge.
 *
 * Each fragment is costed once (memoised), so the time is linear in the document however deeply
 * its spreads nest. graphql-query-complexity and graphql-armor's cost-limit walk a fragment again
 * at every spread (exponential), and armor's reads only literal `first` values, not variables,
 * which is why this rule is ours. It needs the request's variables, so it runs after the standard
 * rules, once per request, with those variables.
 */
import {
  ASTNode,
  BREAK,
  FieldNode,
  FragmentDefinitionNode,
  getNamedType,
  getNullableType,
  getOperationAST,
  GraphQLError,
  GraphQLField,
  GraphQLNamedType,
  GraphQLSchema,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  SchemaMetaFieldDef,
  SelectionSetNode,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  ValidationRule,
  valueFromASTUntyped,
} from 'graphql';
import { PAGE_SIZE } from '../domain/page-size';
import { limitError } from './limits';

/** What a list counts for when nothing says how long it is. */
export const DEFAULT_LIST_LENGTH = 10;

export interface CostLimitOptions {
  maxCost: number;
  operationName?: string | null;
  variables?: Readonly<Record<string, unknown>> | null;
}

/**
 * The cost of a selection set, split so that a fragment's cost can be memoised although the
 * multiplier of its top-level lists depends on where it is spread: `fixed` plus `perItem` times
 * the enclosing connection's `first` (or DEFAULT_LIST_LENGTH).
 */
interface Cost {
  fixed: number;
  perItem: number;
}

// Saturating arithmetic: a cost never becomes Infinity or loses integer precision.
const add = (a: number, b: number) => Math.min(a + b, Number.MAX_SAFE_INTEGER);
const mul = (a: number, b: number) => Math.min(a * b, Number.MAX_SAFE_INTEGER);
const ZERO: Cost = { fixed: 0, perItem: 0 };

export function costLimitRule(options: CostLimitOptions): ValidationRule {
  return (context) => ({
    Document: {
      enter(document) {
        const operation = getOperationAST(document, options.operationName ?? undefined);
        // No such operation: the standard rules or the executor say so.
        if (!operation) return BREAK;
        const schema = context.getSchema();
        const variableDefaults = new Map<string, unknown>();
        for (const def of operation.variableDefinitions ?? []) {
          if (def.defaultValue) variableDefaults.set(def.variable.name.value, valueFromASTUntyped(def.defaultValue));
        }
        const walker = new CostWalker(schema, options.variables ?? {}, variableDefaults, (name) => context.getFragment(name), (e) => context.reportError(e));
        const root = schema.getRootType(operation.operation) ?? undefined;
        const cost = walker.total(walker.selectionSet(operation.selectionSet, root));
        if (cost > options.maxCost) {
          context.reportError(limitError('maxCost', `query cost ${cost} exceeds the limit of ${options.maxCost}`, operation));
        }
        return BREAK;
      },
    },
  });
}

class CostWalker {
  private readonly fragments = new Map<string, Cost | 'visiting'>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly variables: Readonly<Record<string, unknown>>,
    private readonly variableDefaults: Map<string, unknown>,
    private readonly getFragment: (name: string) => FragmentDefinitionNode | null | undefined,
    private readonly report: (error: GraphQLError) => void,
  ) {}

  /** A selection set's cost where its lists have no enclosing `first`. */
  total(cost: Cost): number {
    return add(cost.fixed, mul(DEFAULT_LIST_LENGTH, cost.perItem));
  }

  selectionSet(set: SelectionSetNode, parentType: GraphQLNamedType | undefined): Cost {
    let sum = ZERO;
    for (const selection of set.selections) {
      let part: Cost;
      if (selection.kind === Kind.FIELD) {
        part = this.field(selection, parentType);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) : parentType;
        part = this.selectionSet(selection.selectionSet, type ?? undefined);
      } else {
        part = this.fragment(selection.name.value);
      }
      sum = { fixed: add(sum.fixed, part.fixed), perItem: add(sum.perItem, part.perItem) };
    }
    return sum;
  }

  private fragment(name: string): Cost {
    const known = this.fragments.get(name);
    // A cycle (which NoFragmentsCycles refuses anyway) counts nothing instead of looping.
    if (known === 'visiting') return ZERO;
    if (known) return known;
    const fragment = this.getFragment(name);
    if (!fragment) return ZERO;
    this.fragments.set(name, 'visiting');
    const cost = this.selectionSet(fragment.selectionSet, this.schema.getType(fragment.typeCondition.name.value) ?? undefined);
    this.fragments.set(name, cost);
    return cost;
  }

  private field(node: FieldNode, parentType: GraphQLNamedType | undefined): Cost {
    const def = fieldDefinition(this.schema, parentType, node.name.value);
    const first = def ? this.firstArgument(node, def) : undefined;
    const children = node.selectionSet ? this.selectionSet(node.selectionSet, def ? getNamedType(def.type) : undefined) : ZERO;
    const isList = def !== undefined && isListType(getNullableType(def.type));
    if (!isList) {
      // A connection's `first` sizes the lists directly beneath it (edges, nodes).
      return { fixed: add(1, add(children.fixed, mul(first ?? DEFAULT_LIST_LENGTH, children.perItem))), perItem: 0 };
    }
    const each = add(1, this.total(children));
    return first === undefined ? { fixed: 0, perItem: each } : { fixed: mul(first, each), perItem: 0 };
  }

  /** The field's `first` (literal, variable or default), or undefined when it has none. */
  private firstArgument(node: FieldNode, def: GraphQLField<unknown, unknown>): number | undefined {
    const argDef = def.args.find((a) => a.name === 'first');
    if (!argDef) return undefined;
    const argNode = node.arguments?.find((a) => a.name.value === 'first');
    let value: unknown;
    if (argNode?.value.kind === Kind.VARIABLE) {
      const name = argNode.value.name.value;
      value = this.variables[name] ?? this.variableDefaults.get(name);
    } else if (argNode) {
      value = valueFromASTUntyped(argNode.value, this.variables);
    }
    value ??= argDef.defaultValue;
    // Not an integer: variable coercion refuses it before anything runs.
    if (typeof value !== 'number' || !Number.isInteger(value)) return undefined;
    if (value < PAGE_SIZE.min || value > PAGE_SIZE.max) {
      this.report(outOfRange(argNode ?? node));
      return PAGE_SIZE.max;
    }
    return value;
  }
}

function fieldDefinition(schema: GraphQLSchema, parentType: GraphQLNamedType | undefined, name: string): GraphQLField<unknown, unknown> | undefined {
  if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
  if (parentType && parentType === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  if (isObjectType(parentType) || isInterfaceType(parentType)) return parentType.getFields()[name];
  return undefined;
}

function outOfRange(node: ASTNode): GraphQLError {
  const rule = `must be between ${PAGE_SIZE.min} and ${PAGE_SIZE.max}`;
  return new GraphQLError(`first: ${rule}`, { nodes: [node], extensions: { code: 'BAD_USER_INPUT', field: 'first', rule } });
}
