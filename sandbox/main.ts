/**
 * `npm run sandbox`: starts the demo clouds (cloud-a on 8600, cloud-b on 8700 by default), boots
 * a demo server in the first one, writes each cloud's settings to `<data dir>/<cloud>.env`,
 * prints how to reach them, and runs until SIGINT/SIGTERM.
 *
 *   node dist-sandbox/main.js [--clouds cloud-a:8600,cloud-b:8700] [--data-dir .sandbox]
 *     [--config sandbox.json] [--image-size BYTES] [--log-level warn] [--keep-data] [--no-demo-server]
 *
 * A --config file holds SandboxOptions as JSON (see sandbox/README.md); flags override its dataDir.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { CloudOptions, SandboxOptions } from './config/cloud-options.schema';
import { DEFAULT_IMAGE } from './config/cloud-config';
import { startSandbox, type Sandbox } from './sandbox';
import type { SandboxCloud } from './cloud/cloud';
import { bootDemoServer, type DemoServer } from './demo-server';

const USAGE = `usage: npm run sandbox -- [--clouds NAME:PORT,...] [--data-dir DIR] [--config FILE.json] [--image-size BYTES] [--log-level LEVEL] [--keep-data] [--no-demo-server]`;

function optionsFromArgs(argv: string[]): { options: SandboxOptions; keepData: boolean; demoServer: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      clouds: { type: 'string', default: 'cloud-a:8600,cloud-b:8700' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      'image-size': { type: 'string' },
      // Warnings only: one line per API call (info) drowns what a newcomer needs to read.
      'log-level': { type: 'string', default: 'warn' },
      'keep-data': { type: 'boolean', default: false },
      'no-demo-server': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const fromFile = values.config ? (JSON.parse(fs.readFileSync(values.config, 'utf8')) as Partial<SandboxOptions>) : {};
  const imageSize = values['image-size'] !== undefined ? Number(values['image-size']) : 16 * 1024 * 1024;
  const clouds: CloudOptions[] =
    fromFile.clouds ??
    values.clouds.split(',').map((spec) => {
      const [name, port] = spec.split(':');
      if (!name || !port || !Number.isInteger(Number(port))) throw new Error(`--clouds wants NAME:PORT[,NAME:PORT...], got "${spec}"`);
      return { name, port: Number(port), images: [{ ...DEFAULT_IMAGE, sizeBytes: imageSize }] };
    });
  return {
    options: {
      dataDir: path.resolve(values['data-dir'] ?? fromFile.dataDir ?? '.sandbox'),
      logLevel: (values['log-level'] as SandboxOptions['logLevel']) ?? fromFile.logLevel,
      clouds,
    },
    keepData: values['keep-data'],
    demoServer: !values['no-demo-server'],
  };
}

/** `export NAME='value'` lines a shell can `source`; values quoted so nothing in them is interpreted. */
function envFile(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n');
}

/** Per cloud: its OS_* settings (the `openstack` CLI's) plus what the README's walkthrough reads. */
function cloudEnv(cloud: SandboxCloud, demo: DemoServer | null): Record<string, string> {
  const info = cloud.info();
  return {
    ...cloud.cliEnv(),
    SANDBOX_CLOUD_NAME: info.name,
    SANDBOX_PRIVATE_NETWORK: info.networks.private.name,
    SANDBOX_PUBLIC_NETWORK: info.networks.public.name,
    ...(demo ? { SANDBOX_DEMO_SERVER_ID: demo.id } : {}),
  };
}

function describe(cloud: SandboxCloud, envPath: string, demo: DemoServer | null): string {
  const info = cloud.info();
  const pw = info.credentials.password;
  const ac = info.credentials.applicationCredential;
  return [
    `cloud ${info.name} (region ${info.region})`,
    `  auth URL:    ${info.authUrl}`,
    `  password:    user ${pw.username} / ${pw.password}, project ${pw.projectName}, domains ${pw.userDomainName}/${pw.projectDomainName}`,
    `  app cred:    id ${ac.applicationCredentialId} secret ${ac.applicationCredentialSecret}`,
    `  networks:    ${info.networks.private.name} ${info.networks.private.id}, ${info.networks.public.name} ${info.networks.public.id}`,
    ...(demo ? [`  demo server: ${demo.name} ${demo.id} (ACTIVE: import it with importVm)`] : []),
    `  control:     ${info.controlUrl}`,
    `  settings:    source ${envPath}   (OS_* for the openstack CLI, SANDBOX_* for the README)`,
  ].join('\n');
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof optionsFromArgs>;
  try {
    parsed = optionsFromArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const sandbox: Sandbox = await startSandbox(parsed.options, { keepData: parsed.keepData });
  const [first] = sandbox.clouds;
  const demo = parsed.demoServer && first ? await bootDemoServer(first) : null;
  const envPaths = sandbox.clouds.map((cloud) => {
    const file = path.join(parsed.options.dataDir, `${cloud.name}.env`);
    fs.writeFileSync(file, `${envFile(cloudEnv(cloud, cloud === first ? demo : null))}\n`, { mode: 0o600 });
    return file;
  });
  const shown = (file: string) => (path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file));
  console.log(sandbox.clouds.map((c, i) => describe(c, shown(envPaths[i]), c === first ? demo : null)).join('\n\n'));
  console.log('\nsandbox running; Ctrl-C to stop');
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping sandbox`);
    if (!parsed.keepData) for (const cloud of sandbox.clouds) fs.rmSync(path.join(parsed.options.dataDir, `${cloud.name}.env`), { force: true });
    sandbox.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error((err as Error).message ?? err);
  process.exit(1);
});
