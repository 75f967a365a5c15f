import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisTarget } from '../../src/config/redis-target.js';
import { freePort, startRedis, waitForPing, type TestRedis } from './redis-server.js';

export interface TestRedisSentinel {
  target: RedisTarget;
  /** The servers: [initial master, replica]. */
  servers: TestRedis[];
  /** The port Sentinel currently names as master. */
  masterPort(): number;
  /** Forces a failover (SENTINEL FAILOVER) and waits until the replica is the master. */
  failover(): Promise<void>;
  close(): Promise<void>;
}

const NAME = 'latch-test';

function cli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A master, one replica and one Sentinel (quorum 1) on free loopback ports, each with its own
 * directory. Sentinel runs as `redis-server <conf> --sentinel` (Debian's redis-server package has no
 * separate redis-sentinel binary).
 */
export async function startRedisSentinel(): Promise<TestRedisSentinel> {
  const master = await startRedis();
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  await until(() => /master_link_status:up/.test(cli(replica.port, 'info', 'replication')), 'the replica to sync');

  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'latch-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
      `sentinel monitor ${NAME} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${NAME} 1000`,
      `sentinel failover-timeout ${NAME} 5000`,
      '',
    ].join('\n'),
  );
  const sentinel: ChildProcess = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  await waitForPing(port);
  // Sentinel must know the replica before it can fail over to it.
  await until(() => cli(port, 'sentinel', 'replicas', NAME).includes(String(replica.port)), 'Sentinel to discover the replica');

  const masterPort = () => Number(cli(port, 'sentinel', 'get-master-addr-by-name', NAME).split('\n')[1]);
  return {
    target: { kind: 'sentinel', sentinels: [{ host: '127.0.0.1', port }], name: NAME },
    servers: [master, replica],
    masterPort,
    async failover() {
      const before = masterPort();
      const reply = cli(port, 'sentinel', 'failover', NAME);
      if (reply !== 'OK') throw new Error(`SENTINEL FAILOVER answered ${reply}`);
      await until(() => masterPort() !== before, 'Sentinel to promote the replica');
      await until(() => /role:master/.test(cli(masterPort(), 'info', 'replication')), 'the new master to take writes');
    },
    async close() {
      await new Promise<void>((resolve) => {
        if (sentinel.exitCode !== null) return resolve();
        sentinel.once('exit', () => resolve());
        sentinel.kill('SIGKILL');
      });
      await Promise.all([master.close(), replica.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
