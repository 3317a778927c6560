/** The cloud health rule: what a Keystone probe's outcome means for the cloud. */
import { judgeProbe } from '../../src/domain/cloud-health';
import { CloudHealth } from '../../src/domain/enums';

const rule = { degradedAfterMs: 2000 };

describe('judgeProbe', () => {
  it('is HEALTHY with its latency when Keystone answers in time with a full catalog', () => {
    expect(judgeProbe({ ok: true, latencyMs: 2000, missingServices: [], catalogDrift: [] }, rule)).toEqual({ health: CloudHealth.HEALTHY, message: null, latencyMs: 2000 });
  });

  it('is DEGRADED when Keystone is slower than the rule allows', () => {
    expect(judgeProbe({ ok: true, latencyMs: 2001, missingServices: [], catalogDrift: [] }, rule)).toEqual({
      health: CloudHealth.DEGRADED,
      message: 'Keystone answered in 2001 ms (slower than 2000 ms)',
      latencyMs: 2001,
    });
  });

  it('is DEGRADED, naming what is missing, when the catalog lacks a service a clone needs', () => {
    expect(judgeProbe({ ok: true, latencyMs: 40, missingServices: ['image', 'network'], catalogDrift: [] }, rule)).toEqual({
      health: CloudHealth.DEGRADED,
      message: "the catalog has no public image, network endpoint in the cloud's region",
      latencyMs: 40,
    });
  });

  it('is UNREACHABLE, with the reason and no latency, when the probe failed', () => {
    expect(judgeProbe({ ok: false, reason: 'cloud x: keystone POST /auth/tokens: HTTP 503' }, rule)).toEqual({
      health: CloudHealth.UNREACHABLE,
      message: 'cloud x: keystone POST /auth/tokens: HTTP 503',
      latencyMs: null,
    });
  });

  it('is UNREACHABLE, saying to run verifyCloud, when the catalog moved since it was pinned (the broker refuses such tokens)', () => {
    const verdict = judgeProbe({ ok: true, latencyMs: 40, missingServices: [], catalogDrift: ['compute'] }, rule);
    expect(verdict).toMatchObject({ health: CloudHealth.UNREACHABLE, latencyMs: 40 });
    expect(verdict.message).toMatch(/different compute endpoint .* verifyCloud/);
  });
});
