import { RestartPolicy } from '../../src/cluster/restart-policy.js';

describe('restarting workers that die (restart-policy.ts)', () => {
  it('waits 100 ms before the first restart, doubling with each death in the window, at most 5 s', () => {
    const policy = new RestartPolicy(10, 60_000);
    const delays = Array.from({ length: 10 }, (_, i) => policy.onDeath(1_000 + i));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
  });

  it('gives up on the death after the tenth within a minute (a crash loop)', () => {
    const policy = new RestartPolicy(10, 60_000);
    for (let i = 0; i < 10; i++) expect(policy.onDeath(i * 1000)).toBeDefined();
    expect(policy.onDeath(10_000)).toBeUndefined();
    expect(policy.recentDeaths).toBe(11);
  });

  it('forgets deaths older than the window: occasional crashes never add up to giving up', () => {
    const policy = new RestartPolicy(10, 60_000);
    for (let i = 0; i < 50; i++) expect(policy.onDeath(i * 10_000)).toBe(i < 6 ? 100 * 2 ** i : 3200);
    expect(policy.recentDeaths).toBe(6);
  });
});
