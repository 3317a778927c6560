/** GraphQL documents that are small to send and expensive to analyse naively, for the limit tests. */

/** `levels` fragments on Query, each spreading the next twice: 2^levels copies of `leaf` in ~40 bytes per level. */
export function fanOut(levels: number, leaf = 'me { role }'): string {
  const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  return ['query { ...F0 }', ...fragments, `fragment F${levels} on Query { ${leaf} }`].join('\n');
}

/** `__schema { types { fields { type { ofType ... { name } } } } }`: depth 5 + `ofTypes`. */
export function introspectionNesting(ofTypes: number): string {
  return `{ __schema { types { fields { type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} } } } } }`;
}

/** `n` aliases of `me`. */
export function aliasedMe(n: number): string {
  return `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { role }`).join(' ')} }`;
}
