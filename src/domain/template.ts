/**
 * The broker's one template language, for recipe files and commands, Nagios host objects and
 * load-balancer destinations. Pure code: no I/O, no code execution, no partials, no filters.
 *
 * Syntax: `{{name}}` (spaces or tabs allowed inside the braces) is replaced by the value of the
 * variable `name`; `\{{` writes a literal `{{`; every other character, `}}` and `\` included, is
 * copied as it is. Any other `{{` is a syntax error. Variables are a closed set
 * (TEMPLATE_VARIABLES), each with a type whose rule the value must pass when it is rendered: an
 * IP is an IP, a host name is an RFC 1123 host name. Values are inserted literally: a quote,
 * `$()`, `;` or a newline in a value is text in the output, never interpreted here.
 */
import ipaddr from 'ipaddr.js';

/** What a variable's value must be. */
export type ValueKind = 'ip' | 'hostname' | 'name' | 'text' | 'uuid' | 'nagiosName';

export const TEMPLATE_VARIABLES = {
  fixedIp: { kind: 'ip', description: "the VM's fixed (private) address; the first IPv4 one when it has several" },
  floatingIp: { kind: 'ip', description: "the VM's floating (public) address; a VM without one cannot render a template that uses it" },
  publicIp: { kind: 'ip', description: 'floatingIp when the VM has one, else fixedIp: the address others reach it at' },
  sourceFixedIp: { kind: 'ip', description: "for a clone, the fixed address of the VM it was cloned from (its configuration may still name it); for any other VM, its own fixedIp" },
  hostname: { kind: 'hostname', description: "the VM's name in lower case, which must be an RFC 1123 host name to be used" },
  cloudName: { kind: 'name', description: "the name of the VM's cloud" },
  vmName: { kind: 'text', description: "the VM's (server's) name: any text without control characters" },
  vmId: { kind: 'uuid', description: "the broker's id of the VM" },
  vmTypeName: { kind: 'name', description: "the name of the VM's type" },
  jobId: { kind: 'uuid', description: 'the clone job that made the VM (absent for an imported VM)' },
  hostName: { kind: 'nagiosName', description: "the VM's Nagios host name: the monitoring binding's hostName rendered for the VM (only in monitoring.hostTemplate)" },
} as const satisfies Record<string, { kind: ValueKind; description: string }>;

export type TemplateVariable = keyof typeof TEMPLATE_VARIABLES;

/** Values for one rendering; a variable that is absent (or null) has no value for this VM. */
export type TemplateValues = Partial<Record<TemplateVariable, string | null>>;

const VM_VARIABLES = ['fixedIp', 'floatingIp', 'publicIp', 'sourceFixedIp', 'hostname', 'cloudName', 'vmName', 'vmId', 'vmTypeName', 'jobId'] as const satisfies readonly TemplateVariable[];

/** Which variables each kind of template may use. */
export const TEMPLATE_CONTEXTS = {
  /** configureRecipe: files, command arguments, the readiness command. */
  recipe: VM_VARIABLES,
  /** monitoring.hostName: the Nagios host name (it cannot name itself). */
  nagiosHostName: VM_VARIABLES,
  /** monitoring.hostTemplate: the Nagios object definitions written for the VM. */
  nagiosHost: [...VM_VARIABLES, 'hostName'],
  /** loadBalancer.uriTemplate and loadBalancer.attrs. */
  loadBalancer: VM_VARIABLES,
} as const satisfies Record<string, readonly TemplateVariable[]>;

export type TemplateContext = keyof typeof TEMPLATE_CONTEXTS;

type Part = { text: string } | { variable: string; line: number; column: number };

/** A template that does not follow the syntax, or names a variable it may not use. */
export class TemplateError extends Error {
  constructor(
    message: string,
    /** The variable concerned, when there is one. */
    readonly variable: string | null = null,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** A value that cannot be rendered: absent for this VM, or not of the variable's type. */
export class TemplateRenderError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'TemplateRenderError';
  }
}

const PLACEHOLDER = /^\{\{[ \t]*([A-Za-z][A-Za-z0-9]*)[ \t]*\}\}/;

function position(text: string, index: number): { line: number; column: number } {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return { line, column: index - before.lastIndexOf('\n') };
}

/** Splits a template into text and placeholders; throws TemplateError on a malformed `{{`. */
export function parseTemplate(text: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('\\{{', i)) {
      literal += '{{';
      i += 3;
      continue;
    }
    if (text.startsWith('{{', i)) {
      const match = PLACEHOLDER.exec(text.slice(i, i + 256));
      const { line, column } = position(text, i);
      if (!match) {
        throw new TemplateError(`malformed placeholder at line ${line}, column ${column}: placeholders are {{name}} (write \\{{ for a literal {{)`);
      }
      if (literal) parts.push({ text: literal });
      literal = '';
      parts.push({ variable: match[1], line, column });
      i += match[0].length;
      continue;
    }
    literal += text[i];
    i += 1;
  }
  if (literal) parts.push({ text: literal });
  return parts;
}

/** The variables a template uses, in order of first use; throws TemplateError. */
export function variablesOf(text: string): string[] {
  const names = parseTemplate(text).flatMap((p) => ('variable' in p ? [p.variable] : []));
  return [...new Set(names)];
}

/**
 * Checks syntax and that every variable belongs to `context`: what createVmType/updateVmType
 * run on every template field, so an unknown variable is refused before any clone needs it.
 */
export function checkTemplate(text: string, context: TemplateContext): void {
  const allowed: readonly string[] = TEMPLATE_CONTEXTS[context];
  for (const part of parseTemplate(text)) {
    if (!('variable' in part) || allowed.includes(part.variable)) continue;
    const where = `at line ${part.line}, column ${part.column}`;
    const known = part.variable in TEMPLATE_VARIABLES;
    throw new TemplateError(
      known
        ? `variable "${part.variable}" ${where} cannot be used here; these can: ${allowed.join(', ')}`
        : `unknown variable "${part.variable}" ${where}; the variables are: ${allowed.join(', ')}`,
      part.variable,
    );
  }
}

/**
 * Renders `text` with `values`, each checked against its variable's type first. Throws
 * TemplateError for a malformed template or a variable outside `context`, TemplateRenderError for
 * a value that is absent or not of its type.
 */
export function renderTemplate(text: string, values: TemplateValues, context: TemplateContext): string {
  checkTemplate(text, context);
  let out = '';
  for (const part of parseTemplate(text)) {
    if ('text' in part) {
      out += part.text;
      continue;
    }
    const name = part.variable as TemplateVariable;
    const value = values[name];
    if (value === undefined || value === null) {
      throw new TemplateRenderError(name, `${name} has no value for this VM (${TEMPLATE_VARIABLES[name].description})`);
    }
    const problem = valueProblem(TEMPLATE_VARIABLES[name].kind, value);
    if (problem) throw new TemplateRenderError(name, `${name} ${JSON.stringify(value.slice(0, 80))} ${problem}`);
    out += value;
  }
  return out;
}

/** Why `value` is not of `kind`, or null when it is. */
export function valueProblem(kind: ValueKind, value: string): string | null {
  switch (kind) {
    case 'ip':
      return isIpAddress(value) ? null : 'is not an IP address';
    case 'hostname':
      return isRfc1123Hostname(value) ? null : 'is not an RFC 1123 host name';
    case 'uuid':
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value) ? null : 'is not a UUID';
    case 'name':
      return /^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}$/.test(value) ? null : 'is not a name (letters, digits, space, . _ : -, at most 64)';
    case 'nagiosName':
      return isNagiosObjectName(value) ? null : 'is not a Nagios object name (letters, digits, . _ : -, at most 128, starting with a letter or digit)';
    case 'text':
      return value.length === 0 || value.length > 255 || hasControlCharacter(value) ? 'must be 1-255 characters without control characters' : null;
  }
}

/** Dotted-quad IPv4 (no `127.1`, no octal or hex parts) or IPv6 without a zone. */
export function isIpAddress(value: string): boolean {
  if (ipaddr.IPv4.isValidFourPartDecimal(value)) return true;
  if (value.includes('%') || !ipaddr.IPv6.isValid(value)) return false;
  // An embedded IPv4 part (::ffff:192.0.2.1) must be a dotted quad too.
  const tail = value.slice(value.lastIndexOf(':') + 1);
  return !tail.includes('.') || ipaddr.IPv4.isValidFourPartDecimal(tail);
}

/**
 * RFC 1123: dot-separated labels of 1-63 letters, digits and inner hyphens; at most 253 in all.
 * The last label must not be all digits (RFC 3696 2): resolvers read `127.1` or `2130706433` as
 * addresses, so such a "name" would dodge every rule about addresses.
 */
export function isRfc1123Hostname(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const labels = value.split('.');
  return labels.every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label)) && !/^\d+$/.test(labels[labels.length - 1]);
}

/** A Nagios object name the broker writes: no characters Nagios forbids, no spaces, no newlines. */
export function isNagiosObjectName(value: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(value);
}

/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators. */
export function hasControlCharacter(value: string): boolean {
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value);
}
