/**
 * Notifications a test helper can listen to in-process (e.g. to start an sshd for a server that
 * became ACTIVE at its fixed address). Payloads are plain JSON snapshots, not live records.
 */
import { EventEmitter } from 'node:events';

export interface CloudEventMap {
  'server.active': [{ id: string; name: string; projectId: string; addresses: string[] }];
  'server.error': [{ id: string; name: string; message: string }];
  'server.deleted': [{ id: string; name: string }];
  'image.active': [{ id: string; name: string | null; size: number; checksum: string; osHashValue: string }];
  'image.killed': [{ id: string; name: string | null }];
  'floatingip.associated': [{ id: string; address: string; portId: string; serverId: string | null; fixedIpAddress: string | null }];
  'floatingip.disassociated': [{ id: string; address: string }];
}

export class CloudEvents extends EventEmitter<CloudEventMap> {}
