/** Nova's two timestamp styles and its resource links. */
import type { CloudContext } from '../cloud/cloud.context';

/** `created` / `updated`: 2023-01-01T00:00:00Z */
export function novaTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `OS-SRV-USG:launched_at`: 2023-01-01T00:00:00.000000 (no zone, microseconds) */
export function novaUsageTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

/** Nova's self (versioned) and bookmark (unversioned) links. */
export function novaLinks(cloud: CloudContext, collection: string, id: string): Array<{ rel: string; href: string }> {
  const unversioned = cloud.urls.compute.replace(/\/v2\.1$/, '');
  return [
    { rel: 'self', href: `${cloud.urls.compute}/${collection}/${id}` },
    { rel: 'bookmark', href: `${unversioned}/${collection}/${id}` },
  ];
}
