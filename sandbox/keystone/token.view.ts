/** The `{"token": ...}` body Keystone returns on issue and validation. */
import type { CloudContext } from '../cloud/cloud.context';
import { catalogView } from './catalog.view';
import type { TokenRecord } from './token.store';

/** Keystone prints microseconds: 2023-01-01T00:00:00.000000Z. */
export function keystoneTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function tokenView(cloud: CloudContext, token: TokenRecord, withCatalog: boolean): unknown {
  const body: Record<string, unknown> = {
    methods: token.methods,
    user: { domain: { ...token.user.domain }, id: token.user.id, name: token.user.name, password_expires_at: null },
    audit_ids: [token.auditId],
    expires_at: keystoneTime(token.expiresAt),
    issued_at: keystoneTime(token.issuedAt),
  };
  if (token.project) {
    body.project = { domain: { ...token.project.domain }, id: token.project.id, name: token.project.name };
    body.is_domain = false;
    body.roles = token.roles.map((r) => ({ id: r.id, name: r.name }));
    if (withCatalog) body.catalog = catalogView(cloud);
  }
  if (token.applicationCredential) {
    const ac = token.applicationCredential;
    body.application_credential = { id: ac.id, name: ac.name, restricted: true };
  }
  return { token: body };
}
