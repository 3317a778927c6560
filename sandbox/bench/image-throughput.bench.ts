/**
 * Benchmark of the sandbox's image data path (no asserts: it prints numbers and ratios).
 * Measures seeding, unthrottled upload/download over loopback, and how close throttled
 * transfers come to the configured link rate.
 *
 *   npx tsc -p . && node dist/sandbox/bench/image-throughput.bench.js [--size-mib 1024] [--link-mib 64]
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startSandbox } from '../sandbox';
import type { SandboxCloud } from '../cloud/cloud';
import { downloadOnly, transfer } from './image-transfer';

const MiB = 1024 * 1024;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '1024' }, 'link-mib': { type: 'string', default: '64' } } });
  const size = Number(values['size-mib']) * MiB;
  const link = Number(values['link-mib']) * MiB;
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-bench-'));
  const sandbox = await startSandbox({ dataDir, clouds: [{ name: 'bench-a', images: [] }, { name: 'bench-b', images: [] }] });
  try {
    const [a, b] = sandbox.clouds as [SandboxCloud, SandboxCloud];
    let t0 = performance.now();
    const image = await a.control.seedImage({ name: 'bench', sizeBytes: size });
    const seedS = (performance.now() - t0) / 1000;
    console.log(`seed ${size / MiB} MiB (generate + md5 + sha512 + write): ${seedS.toFixed(2)} s, ${(size / MiB / seedS).toFixed(0)} MiB/s`);

    const dl = await downloadOnly(a, image.id);
    console.log(`download, unthrottled: ${dl.toFixed(2)} s, ${(size / MiB / dl).toFixed(0)} MiB/s`);
    const copy = await transfer(a, b, image.id);
    console.log(`A -> B stream (download + upload with hashing), unthrottled: ${copy.toFixed(2)} s, ${(size / MiB / copy).toFixed(0)} MiB/s`);

    // Throttled: a transfer of ~4 s at the link rate, so the ratio is meaningful but the run short.
    const throttledSize = Math.min(size, link * 4);
    const small = await a.control.seedImage({ name: 'bench-small', sizeBytes: throttledSize });
    await b.control.setBandwidth({ uploadBytesPerSecond: link });
    t0 = performance.now();
    const throttled = await transfer(a, b, small.id);
    const ideal = throttledSize / link;
    console.log(
      `A -> B with B's upload link at ${link / MiB} MiB/s: ${throttled.toFixed(2)} s for ${throttledSize / MiB} MiB ` +
        `(ideal ${ideal.toFixed(2)} s, ratio measured/ideal ${(throttled / ideal).toFixed(3)})`,
    );
  } finally {
    await sandbox.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
