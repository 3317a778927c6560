/** Sandbox OpenStack clouds (real HTTP on loopback) for tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSandbox, Sandbox } from '../../sandbox';

export async function startSandboxClouds(...names: string[]): Promise<Sandbox> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-sandbox-'));
  const sandbox = await startSandbox({ dataDir, clouds: names.map((name) => ({ name, port: 0 })) });
  return {
    ...sandbox,
    cloud: sandbox.cloud.bind(sandbox),
    stop: async () => {
      await sandbox.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
