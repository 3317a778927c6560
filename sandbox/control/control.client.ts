/**
 * SandboxControl over HTTP, for a test or benchmark in another process than the sandbox
 * (`npm run sandbox` prints each cloud's control URL).
 */
import { request } from 'undici';
import type { FaultInfo, FaultSpec } from '../behaviour/fault-injector';
import type { OperationName } from '../behaviour/operation-names';
import type { CloudSettings } from '../config/cloud-config';
import type { SettingsPatch } from '../config/cloud-options.schema';
import { SettingsShortcuts } from './settings-shortcuts';
import type { CloudInfo, SandboxControl, SandboxImage, SandboxServer, SeedImageRequest } from './control.types';

export class SandboxControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

class HttpControl extends SettingsShortcuts implements SandboxControl {
  constructor(private readonly baseUrl: string) {
    super();
  }

  private async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const res = await request(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
      } catch {
        // not JSON: keep the raw text
      }
      throw new SandboxControlError(res.statusCode, `sandbox control ${method} ${path}: ${res.statusCode} ${message}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  info(): Promise<CloudInfo> {
    return this.call('GET', '/');
  }
  settings(): Promise<CloudSettings> {
    return this.call('GET', '/settings');
  }
  updateSettings(patch: SettingsPatch): Promise<CloudSettings> {
    return this.call('PATCH', '/settings', patch);
  }
  injectFault(spec: FaultSpec): Promise<FaultInfo> {
    return this.call('POST', '/faults', spec);
  }
  async listFaults(): Promise<FaultInfo[]> {
    return (await this.call<{ faults: FaultInfo[] }>('GET', '/faults')).faults;
  }
  clearFaults(id?: string): Promise<void> {
    return this.call('DELETE', id ? `/faults/${encodeURIComponent(id)}` : '/faults');
  }
  async calls(): Promise<Partial<Record<OperationName, number>>> {
    return (await this.call<{ calls: Partial<Record<OperationName, number>> }>('GET', '/calls')).calls;
  }
  resetCalls(): Promise<void> {
    return this.call('DELETE', '/calls');
  }
  seedImage(request: SeedImageRequest): Promise<SandboxImage> {
    return this.call('POST', '/images', request);
  }
  async listImages(): Promise<SandboxImage[]> {
    return (await this.call<{ images: SandboxImage[] }>('GET', '/images')).images;
  }
  async listServers(): Promise<SandboxServer[]> {
    return (await this.call<{ servers: SandboxServer[] }>('GET', '/servers')).servers;
  }
  async revokeTokens(): Promise<number> {
    return (await this.call<{ revoked: number }>('POST', '/tokens/revoke')).revoked;
  }
}

/** A SandboxControl for a cloud running elsewhere; `controlUrl` is e.g. http://127.0.0.1:8600/_sandbox */
export function connectSandboxControl(controlUrl: string): SandboxControl {
  return new HttpControl(controlUrl.replace(/\/+$/, ''));
}
