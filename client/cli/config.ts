/**
 * ~/.config/intercloud/config.json (or $XDG_CONFIG_HOME/intercloud/config.json): named profiles
 * of broker URL and token, written with mode 0600 in a 0700 folder because it holds bearer
 * tokens. INTERCLOUD_URL, INTERCLOUD_TOKEN and INTERCLOUD_PROFILE override what it says.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError, Exit } from './errors';

export interface Profile {
  url: string;
  token: string;
}

export interface ConfigFile {
  currentProfile: string;
  profiles: Record<string, Profile>;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(env.HOME ?? os.homedir(), '.config');
  return path.join(base, 'intercloud', 'config.json');
}

export function readConfig(file = configPath()): ConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { currentProfile: 'default', profiles: {} };
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, Exit.USAGE);
  }
  try {
    const parsed = JSON.parse(text) as Partial<ConfigFile>;
    return { currentProfile: parsed.currentProfile ?? 'default', profiles: parsed.profiles ?? {} };
  } catch {
    throw new CliError(`${file} is not valid JSON; fix or remove it and log in again`, Exit.USAGE);
  }
}

/** Written to a temporary file (mode 0600) and renamed over the old one, so it is never half-written or readable by others. */
export function writeConfig(config: ConfigFile, file = configPath()): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const tmp = path.join(dir, `.config.${process.pid}.tmp`);
  fs.writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export interface Connection {
  profile: string;
  url: string;
  token: string;
}

/** The profile to use: --profile, else INTERCLOUD_PROFILE, else the one last logged in with. */
export function profileName(flag: string | undefined, config: ConfigFile, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.INTERCLOUD_PROFILE ?? config.currentProfile ?? 'default';
}

export function resolveConnection(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Connection {
  const config = readConfig(configPath(env));
  const profile = profileName(flag, config, env);
  const saved = config.profiles[profile];
  if (flag && !saved && !(env.INTERCLOUD_URL && env.INTERCLOUD_TOKEN)) {
    throw new CliError(`no profile "${flag}" in ${configPath(env)}; log in with: intercloud login --profile ${flag} --url URL`, Exit.USAGE);
  }
  const url = env.INTERCLOUD_URL || saved?.url;
  if (!url) throw new CliError('no broker URL: run `intercloud login --url URL` (or set INTERCLOUD_URL)', Exit.USAGE);
  const token = env.INTERCLOUD_TOKEN || saved?.token;
  if (!token) throw new CliError('no token: run `intercloud login` (or set INTERCLOUD_TOKEN)', Exit.AUTH);
  return { profile, url, token };
}
