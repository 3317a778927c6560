/** What every command gets: the typed client for the selected profile, the output, and name lookups. */
import WebSocket from 'ws';
import { CloudsDocument, CloudsQuery, IntercloudClient, VmsDocument, VmsQuery, VmTypesDocument, VmTypesQuery } from '../sdk';
import { Connection, resolveConnection } from './config';
import { usage } from './errors';
import { Output } from './output';

export type Cloud = CloudsQuery['clouds'][number];
export type Vm = VmsQuery['vms'][number];
export type VmType = VmTypesQuery['vmTypes'][number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface GlobalOptions {
  profile?: string;
  json?: boolean;
}

export class CliContext {
  readonly client: IntercloudClient;

  constructor(
    readonly connection: Connection,
    readonly out: Output,
  ) {
    this.client = new IntercloudClient({ url: connection.url, token: connection.token, webSocketImpl: WebSocket });
  }

  static open(options: GlobalOptions): CliContext {
    return new CliContext(resolveConnection(options.profile), new Output(!!options.json));
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** A cloud by id or by name (your own first, then shared ones). */
  async cloud(ref: string): Promise<Cloud> {
    const { clouds } = await this.client.request(CloudsDocument);
    const found = UUID.test(ref) ? clouds.filter((c) => c.id === ref) : clouds.filter((c) => c.name === ref);
    const own = found.filter((c) => c.owned);
    if (own.length === 1 || found.length === 1) return own[0] ?? found[0];
    if (found.length === 0) throw usage(`no cloud "${ref}" (see: intercloud clouds list)`);
    throw usage(`"${ref}" names ${found.length} shared clouds; use an id: ${found.map((c) => c.id).join(', ')}`);
  }

  async vmType(ref: string): Promise<VmType> {
    const { vmTypes } = await this.client.request(VmTypesDocument);
    const t = vmTypes.find((v) => v.id === ref || v.name === ref);
    if (!t) throw usage(`no VM type "${ref}" (see: intercloud vm-types list)`);
    return t;
  }

  async vm(ref: string): Promise<Vm> {
    const { vms } = await this.client.request(VmsDocument, {});
    const found = vms.filter((v) => v.id === ref || v.name === ref || v.serverId === ref);
    if (found.length === 1) return found[0];
    if (found.length === 0) throw usage(`no VM "${ref}" (see: intercloud vms list)`);
    throw usage(`"${ref}" names ${found.length} VMs; use an id: ${found.map((v) => v.id).join(', ')}`);
  }
}
