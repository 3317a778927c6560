/** Starts several sandbox clouds in this process, each on its own loopback port. */
import pino, { type Logger } from 'pino';
import { resolveCloudConfig } from './config/cloud-config';
import { describeZodError, sandboxOptionsSchema, type SandboxOptions } from './config/cloud-options.schema';
import { SandboxCloud } from './cloud/cloud';

export interface StartSandboxExtras {
  /** Use this logger instead of a new pino (level from options.logLevel / SANDBOX_LOG_LEVEL, default silent). */
  logger?: Logger;
  /** Keep each cloud's data folder after stop (default: removed). */
  keepData?: boolean;
}

export interface Sandbox {
  readonly clouds: SandboxCloud[];
  /** The cloud with this name; throws if there is none. */
  cloud(name: string): SandboxCloud;
  /** Stops every cloud (idempotent). */
  stop(): Promise<void>;
}

export class SandboxOptionsError extends Error {}

export async function startSandbox(options: SandboxOptions, extras: StartSandboxExtras = {}): Promise<Sandbox> {
  const parsed = sandboxOptionsSchema.safeParse(options);
  if (!parsed.success) throw new SandboxOptionsError(`invalid sandbox options:\n${describeZodError(parsed.error)}`);
  const log = extras.logger ?? pino({ name: 'sandbox', level: parsed.data.logLevel ?? process.env.SANDBOX_LOG_LEVEL ?? 'silent' });
  const clouds: SandboxCloud[] = [];
  try {
    for (const [index, cloudOptions] of parsed.data.clouds.entries()) {
      const config = resolveCloudConfig(cloudOptions, index, parsed.data.dataDir);
      clouds.push(await SandboxCloud.start(config, { log, keepData: extras.keepData }));
    }
  } catch (err) {
    await Promise.all(clouds.map((c) => c.stop()));
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    clouds,
    cloud(name: string): SandboxCloud {
      const found = clouds.find((c) => c.name === name);
      if (!found) throw new Error(`no sandbox cloud named ${name} (have: ${clouds.map((c) => c.name).join(', ')})`);
      return found;
    },
    stop(): Promise<void> {
      stopping ??= Promise.all(clouds.map((c) => c.stop())).then(() => undefined);
      return stopping;
    },
  };
}
