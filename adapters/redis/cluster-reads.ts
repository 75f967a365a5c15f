import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { RespConnection, RespConnectionLost, RespError, type Reply } from './resp-connection.js';

/** Redirections and cluster states ioredis knows how to follow (it refreshes its slot table). */
const REDIRECTED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|READONLY) /;

/**
 * The single-key reads of introspection on a Redis Cluster (RedisStore.fetch: the record, then its
 * grant, account and client state), sent over one direct connection per primary
 * (resp-connection.ts) instead of ioredis's cluster command path. The node of a key is the primary
 * ioredis's slot table names for its slot, so a failover or resharding ioredis has seen is
 * followed; a read the node redirects (MOVED, ASK), a node not connected yet, and a lost
 * connection all go through ioredis instead, which redirects, refreshes its table and fails
 * closed as it always did.
 */
export class ClusterReads {
  readonly #cluster: Cluster;
  readonly #connections = new Map<string, RespConnection>();
  readonly #auth: { username?: string; password?: string };

  constructor(cluster: Cluster) {
    this.#cluster = cluster;
    const { username, password } = cluster.options.redisOptions ?? {};
    this.#auth = { username, password };
    // A node that left the cluster (ioredis's view) takes its connection with it.
    cluster.on('-node', (node: { options: { host?: string; port?: number } }) => this.#drop(`${node.options.host}:${node.options.port}`));
    cluster.once('end', () => this.close());
  }

  /** `args` for `key` on its primary; `viaIoredis` when that is not possible right now. */
  send<T>(key: string, args: readonly string[], viaIoredis: () => Promise<T>): Promise<T> {
    const node = this.#cluster.slots[calculateSlot(key)]?.[0];
    const connection = node === undefined ? undefined : this.#connection(node);
    if (!connection?.ready) return viaIoredis();
    return (connection.send(args) as Promise<Reply> as Promise<T>).catch((err: Error) => {
      if (err instanceof RespConnectionLost || (err instanceof RespError && REDIRECTED.test(err.message))) return viaIoredis();
      throw err;
    });
  }

  close(): void {
    for (const connection of this.#connections.values()) connection.close();
    this.#connections.clear();
  }

  #connection(node: string): RespConnection {
    let connection = this.#connections.get(node);
    if (!connection) {
      const colon = node.lastIndexOf(':');
      connection = new RespConnection({ host: node.slice(0, colon), port: Number(node.slice(colon + 1)), ...this.#auth });
      this.#connections.set(node, connection);
    }
    return connection;
  }

  #drop(node: string): void {
    this.#connections.get(node)?.close();
    this.#connections.delete(node);
  }
}
