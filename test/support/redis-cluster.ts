import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import type { RedisTarget } from '../../src/config/redis-target.js';
import { freePort, waitForPing } from './redis-server.js';

export interface TestRedisCluster {
  target: RedisTarget;
  /** Every node's port; `redis-cli --cluster create` makes the first `primaries` of them primaries. */
  ports: number[];
  /** A plain cluster client for assertions (not the one Latch uses). */
  client: Cluster;
  /** Kills one node (SIGKILL) and starts it again with its data directory and cluster state. */
  stopNode(index: number): Promise<void>;
  startNode(index: number): Promise<void>;
  /** The process ids of the nodes running now (the bench's CPU time per request). */
  pids(): number[];
  close(): Promise<void>;
}

function clusterState(port: number): string {
  const info = spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
  return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
}

async function waitForState(ports: number[], state = 'ok'): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ports.every((port) => clusterState(port) === state)) {
    if (Date.now() > deadline) throw new Error(`redis cluster on ${ports.join(',')} did not reach cluster_state:${state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForReplicas(ports: number[], expected: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  const synced = () => ports.filter((port) => /master_link_status:up/.test(spawnSync('redis-cli', ['-p', String(port), 'info', 'replication'], { encoding: 'utf8' }).stdout)).length;
  while (synced() < expected) {
    if (Date.now() > deadline) throw new Error('cluster replicas did not sync');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts a private Redis Cluster of `primaries` primaries with `replicas` replicas each on free
 * loopback ports, each node with its own directory and an explicit cluster bus port (the default
 * port+10000 may be taken or out of range), joins them with `redis-cli --cluster create`, and waits
 * for cluster_state:ok everywhere.
 */
export async function startRedisCluster(primaries = 3, replicas = 0): Promise<TestRedisCluster> {
  const size = primaries * (1 + replicas);
  const dir = mkdtempSync(join(tmpdir(), 'latch-cluster-'));
  const ports: number[] = [];
  const busPorts: number[] = [];
  while (ports.length < size) {
    const [port, bus] = [await freePort(), await freePort()];
    if (port === bus || ports.includes(port) || busPorts.includes(port) || ports.includes(bus) || busPorts.includes(bus)) continue;
    ports.push(port);
    busPorts.push(bus);
  }
  const children: Array<ChildProcess | undefined> = [];

  async function startNode(index: number) {
    const port = ports[index]!;
    children[index] = spawn(
      'redis-server',
      [
        '--port', String(port), '--cluster-port', String(busPorts[index]), '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000',
        '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--appendfilename', `aof-${port}`, '--appenddirname', `aof-${port}`, '--dir', dir,
      ],
      { stdio: 'ignore' },
    );
    await waitForPing(port);
  }

  async function stopNode(index: number) {
    const running = children[index];
    children[index] = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
  }

  await Promise.all(ports.map((_, i) => startNode(i)));
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  await waitForState(ports);
  // Replicas must have synced before a test may kill their primary.
  if (replicas > 0) await waitForReplicas(ports, primaries * replicas);

  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  const client = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  client.on('error', () => {});
  return {
    target: { kind: 'cluster', nodes },
    ports,
    client,
    stopNode,
    async startNode(index) {
      await startNode(index);
      await waitForState(ports.filter((_, i) => children[i]));
    },
    pids: () => children.flatMap((child) => (child?.pid !== undefined && child.exitCode === null ? [child.pid] : [])),
    async close() {
      client.disconnect();
      await Promise.all(ports.map((_, i) => stopNode(i)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
