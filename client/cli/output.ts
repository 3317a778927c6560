/**
 * Where a command's results go: tables and lines for people, one JSON document (or one JSON
 * object per line for streams) with --json. Colour only on a terminal, and never with NO_COLOR.
 */
import Table from 'cli-table3';

export type Paint = 'green' | 'red' | 'yellow' | 'cyan' | 'dim' | 'bold';
const CODES: Record<Paint, [number, number]> = { green: [32, 39], red: [31, 39], yellow: [33, 39], cyan: [36, 39], dim: [2, 22], bold: [1, 22] };

export class Output {
  readonly tty: boolean;
  readonly color: boolean;

  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = !!stdout.isTTY && process.env.TERM !== 'dumb';
    this.color = this.tty && !json && process.env.NO_COLOR === undefined;
  }

  paint(text: string, ...styles: Paint[]): string {
    if (!this.color) return text;
    return styles.reduce((t, s) => `\u001b[${CODES[s][0]}m${t}\u001b[${CODES[s][1]}m`, text);
  }

  /** A line for people (nothing with --json). */
  line(text = ''): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** A note on stderr (progress, hints), for people only. */
  note(text: string): void {
    if (!this.json) this.stderr.write(`${text}\n`);
  }

  /** The result as JSON (only with --json). */
  result(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One object of a stream, one line each (only with --json). */
  record(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  error(message: string, details: Record<string, unknown> = {}): void {
    if (this.json) this.stderr.write(`${JSON.stringify({ error: { message, ...details } })}\n`);
    else this.stderr.write(`${this.paint('error', 'red', 'bold')}: ${message}\n`);
  }

  table(head: string[], rows: (string | number | null | undefined)[][], options: { wrap?: number[] } = {}): void {
    if (this.json) return;
    const width = this.stdout.columns ?? 160;
    const t = new Table({
      head: head.map((h) => this.paint(h, 'bold')),
      style: { head: [], border: this.color ? ['grey'] : [], compact: true },
      wordWrap: true,
      wrapOnWordBoundary: true,
      ...(options.wrap ? { colWidths: head.map((_, i) => (options.wrap!.includes(i) ? Math.max(20, Math.floor(width / 2)) : null)) } : {}),
    } as Table.TableConstructorOptions);
    for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '-' : String(c))));
    this.stdout.write(`${t.toString()}\n`);
  }

  /** Key/value pairs of one object. */
  fields(pairs: [string, string | number | boolean | null | undefined][]): void {
    if (this.json) return;
    const w = Math.max(...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) this.stdout.write(`${this.paint(k.padEnd(w), 'dim')}  ${v === null || v === undefined || v === '' ? '-' : String(v)}\n`);
  }
}
