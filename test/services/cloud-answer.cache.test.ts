/** The matchmaker's per-process cache of cloud answers: served while young enough, with its age; failures never kept. */
import { CloudAnswerCache } from '../../src/services/cloud-answer.cache';

describe('CloudAnswerCache', () => {
  let now = 1_000_000;
  const clock = () => now;

  function counted<T>(value: T) {
    const load = jest.fn(async () => value);
    return load;
  }

  it('serves an answer up to its maximum age, with the age, then reads again', async () => {
    const cache = new CloudAnswerCache(10_000, clock);
    const load = counted({ maxInstances: 10 });
    expect(await cache.get('limits:a', load)).toEqual({ value: { maxInstances: 10 }, ageMs: 0, cached: false });
    now += 4_000;
    expect(await cache.get('limits:a', load)).toEqual({ value: { maxInstances: 10 }, ageMs: 4_000, cached: true });
    now += 6_001;
    expect(await cache.get('limits:a', load)).toMatchObject({ ageMs: 0, cached: false });
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('reads fresh when the caller allows no age, and keeps that answer for the next', async () => {
    const cache = new CloudAnswerCache(10_000, clock);
    const load = counted(1);
    await cache.get('k', load);
    expect(await cache.get('k', load, 0)).toMatchObject({ cached: false });
    expect(await cache.get('k', load)).toMatchObject({ cached: true, ageMs: 0 });
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('keeps nothing with a maximum age of 0', async () => {
    const cache = new CloudAnswerCache(0, clock);
    const load = counted(1);
    await cache.get('k', load);
    await cache.get('k', load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('shares one call between concurrent callers and keeps no failure', async () => {
    const cache = new CloudAnswerCache(10_000, clock);
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('HTTP 503');
    };
    await expect(Promise.all([cache.get('k', failing), cache.get('k', failing)])).rejects.toThrow('HTTP 503');
    expect(calls).toBe(1);
    const load = counted(7);
    expect(await cache.get('k', load)).toEqual({ value: 7, ageMs: 0, cached: false });
  });

  it('keys are separate, and the oldest entries go beyond the size bound', async () => {
    const cache = new CloudAnswerCache(10_000, clock, 2);
    const load = counted(1);
    await cache.get('a', load);
    await cache.get('b', load);
    await cache.get('c', load);
    expect(load).toHaveBeenCalledTimes(3);
    expect(await cache.get('c', load)).toMatchObject({ cached: true });
    expect(await cache.get('a', load)).toMatchObject({ cached: false });
  });
});
