/** The peers' real Nagios, read and fed the way an operator's tools would: its JSON CGI, its command file, its PID. */
import fs from 'node:fs';
import type { ServicePeers } from './service-peers';

/** A passive check result, as a push source or a test writes it to Nagios's command file. */
export async function submitPassive(peers: ServicePeers, host: string, service: string, code: 0 | 1 | 2 | 3, output: string, at = Math.floor(Date.now() / 1000)): Promise<void> {
  // Opening the FIFO waits for Nagios, its reader: async, so a missing Nagios fails the hang guard, not the process.
  const fifo = await fs.promises.open(peers.nagios.commandFile, fs.constants.O_WRONLY | fs.constants.O_APPEND);
  try {
    await fifo.write(`[${at}] PROCESS_SERVICE_CHECK_RESULT;${host};${service};${code};${output}\n`);
  } finally {
    await fifo.close();
  }
}

/** The host names Nagios has loaded now (statusjson.cgi hostlist), read directly, not through the broker's adapter. */
export async function nagiosHostNames(peers: ServicePeers): Promise<string[]> {
  const auth = Buffer.from(`${peers.nagios.username}:${peers.nagios.password}`).toString('base64');
  const res = await fetch(`${peers.nagios.statusUrl}?query=hostlist`, { headers: { authorization: `Basic ${auth}` } });
  if (!res.ok) throw new Error(`Nagios statusjson answered HTTP ${res.status}`);
  const body = (await res.json()) as { data?: { hostlist?: Record<string, unknown> } };
  return Object.keys(body.data?.hostlist ?? {});
}

export function nagiosPid(peers: ServicePeers): number {
  return Number(fs.readFileSync(peers.nagios.pidFile, 'utf8').trim());
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
