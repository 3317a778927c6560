/**
 * The two table shapes a SIP load balancer keeps its destinations in, and what a row may hold.
 * Table names come from the tenant's registration: they are checked against a fixed pattern
 * before they ever appear in SQL (as quoted identifiers; values are always parameters).
 */
import { LoadBalancerKind } from '../../domain/enums';
import { BadUserInputError } from '../../domain/errors';
import type { Destination } from '../../ports/sip-load-balancer.port';

/** A plain MySQL identifier: no quoting, schema qualifier or anything else can ride along. */
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface TableShape {
  /** What messages call it. */
  label: string;
  set: string;
  uri: string;
  attrs: string;
  tag: string;
  /** Columns the broker sets to 0 (dispatcher flags and priority, load_balancer probe_mode). */
  zeros: readonly string[];
  /** Column sizes of the stock schemas: longer values are refused, never truncated (a cut tag would defeat idempotency). */
  max: { uri: number; attrs: number; tag: number };
  /** Set/group id range of the column (dispatcher setid is INT, load_balancer group_id INT UNSIGNED). */
  minSet: number;
  /** The balancer needs attrs: OpenSIPS refuses a destination without resources. */
  attrsRequired: boolean;
}

export const TABLE_SHAPES: Record<LoadBalancerKind, TableShape> = {
  // Kamailio 5.x dispatcher, table version 4 (/usr/share/kamailio/mysql/dispatcher-create.sql).
  [LoadBalancerKind.KAMAILIO_DISPATCHER]: {
    label: 'Kamailio dispatcher',
    set: 'setid',
    uri: 'destination',
    attrs: 'attrs',
    tag: 'description',
    zeros: ['flags', 'priority'],
    max: { uri: 192, attrs: 128, tag: 64 },
    minSet: 0,
    attrsRequired: false,
  },
  // OpenSIPS load_balancer (opensips-cli's load_balancer-create.sql).
  [LoadBalancerKind.OPENSIPS_LOAD_BALANCER]: {
    label: 'OpenSIPS load_balancer',
    set: 'group_id',
    uri: 'dst_uri',
    attrs: 'resources',
    tag: 'description',
    zeros: ['probe_mode'],
    max: { uri: 128, attrs: 255, tag: 128 },
    minSet: 0,
    attrsRequired: true,
  },
};

const MAX_SET = 2_147_483_647;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const SIP_URI = /^sips?:[^\s<>"]+$/i;

export function checkTable(table: string): string {
  if (!TABLE_NAME.test(table)) throw new BadUserInputError('table', 'must be a plain table name: a letter or _, then letters, digits or _ (at most 64)');
  return table;
}

/** A tag as it will be found again: exactly these characters (no control characters, no edge spaces a CHAR column would drop). */
export function checkTag(shape: TableShape, tag: string): string {
  if (!tag || tag.trim() !== tag || CONTROL.test(tag)) throw new BadUserInputError('tag', 'must be non-empty, without control characters or leading/trailing spaces');
  if (tag.length > shape.max.tag) throw new BadUserInputError('tag', `must be at most ${shape.max.tag} characters (the ${shape.label} ${shape.tag} column)`);
  return tag;
}

/** The set (group) id and URI of a row, as the table can hold them. */
export function checkSetAndUri(shape: TableShape, setId: number, uri: string): void {
  if (!Number.isInteger(setId) || setId < shape.minSet || setId > MAX_SET) {
    throw new BadUserInputError('setId', `must be an integer from ${shape.minSet} to ${MAX_SET}`);
  }
  if (!SIP_URI.test(uri) || uri.length > shape.max.uri) {
    throw new BadUserInputError('uri', `must be a sip: or sips: URI without spaces, at most ${shape.max.uri} characters`);
  }
}

export function checkDestination(shape: TableShape, d: Destination): Destination {
  checkSetAndUri(shape, d.setId, d.uri);
  if (CONTROL.test(d.attrs) || d.attrs.length > shape.max.attrs) {
    throw new BadUserInputError('attrs', `must be at most ${shape.max.attrs} characters without control characters`);
  }
  if (shape.attrsRequired && !d.attrs) throw new BadUserInputError('attrs', `${shape.label} needs its ${shape.attrs} (e.g. pstn=100)`);
  checkTag(shape, d.tag);
  return d;
}
