/** Transfer agents as real processes (`INTERCLOUD_ROLE=agent node dist/src/main.js`). Needs dist/ (npx tsc -p tsconfig.json). */
import fs from 'node:fs';
import path from 'node:path';
import { launchBroker } from './broker-process';

export interface AgentProcess {
  url: string;
  cacheDir: string;
  /** SIGKILL, as a crash would; resolves once the process is gone. */
  crash(): Promise<void>;
  /** Chunk files in the agent's store (all scopes). */
  storedChunks(): number;
  /** Bytes of the chunk files (frames) in the agent's store (all scopes). */
  storedBytes(): number;
}

/** `env` adds or overrides agent settings (AGENT_SPOOL_DIR, AGENT_SPOOL_RESERVE_BYTES...). */
export async function spawnAgent(secret: string, cacheDir: string, timeoutMs = 60_000, env: Record<string, string> = {}): Promise<AgentProcess> {
  const p = launchBroker({ INTERCLOUD_ROLE: 'agent', PORT: '0', HOST: '127.0.0.1', AGENT_SHARED_SECRET: secret, AGENT_CACHE_DIR: cacheDir, LOG_LEVEL: 'warn', ...env });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      reject(new Error(`agent did not start within ${timeoutMs} ms\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`));
    }, timeoutMs);
    const check = () => {
      const m = /^Intercloud transfer agent listening on (\S+)$/m.exec(p.stdout());
      if (!m) return;
      clearTimeout(timer);
      p.child.stdout.off('data', check);
      resolve(m[1]);
    };
    p.child.stdout.on('data', check);
    void p.exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`agent exited (code ${code}) before listening\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`));
    });
  });
  return {
    url,
    cacheDir,
    async crash() {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    },
    storedChunks: () => chunkFiles(cacheDir).length,
    storedBytes: () => chunkFiles(cacheDir).reduce((sum, file) => sum + fs.statSync(file).size, 0),
  };
}

function chunkFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /^[0-9a-f]{64}$/.test(e.name) && path.basename(e.name) === e.name)
    .map((e) => path.join(e.parentPath, e.name));
}
