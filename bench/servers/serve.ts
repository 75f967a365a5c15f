import type { Server } from 'node:http';

/** The options the bench passed to this server process (see lib/child-server.ts). */
export function serverOptions<T>(): T {
  return JSON.parse(process.env.BENCH_SERVER_OPTIONS ?? '{}') as T;
}

/**
 * Listens on a free loopback port, tells the bench (over IPC) where, and exits cleanly when the
 * bench says stop: a clean exit lets `--cpu-prof` write its profile.
 */
export async function listenAndReport(server: Server, beforeReady?: (url: string) => Promise<void>, onStop?: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  if (beforeReady) await beforeReady(url);
  process.on('message', (message: { stop?: boolean }) => {
    if (!message?.stop) return;
    server.closeAllConnections();
    server.close();
    void (onStop?.() ?? Promise.resolve()).finally(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready: true, url });
}
