import type { Server, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';

/** How long after the stop a connection must have been idle before it is closed. */
const IDLE_CLOSE_MS = 1000;

/**
 * Prepares `server` for a graceful stop and returns the stop: it resolves once every connection
 * has closed. Call it before the server serves.
 *
 * After the stop nothing new is accepted, and every response, also those already being computed,
 * says `Connection: close`, so each keep-alive connection closes after its current response and
 * its client opens a new one (elsewhere). Node's own `server.close()` is not enough: it closes the
 * connections idle at that instant — a busy keep-alive connection is idle for the moment between
 * a response and the client's next request, and its client then writes into a closed socket
 * (ECONNRESET) — and it keeps serving the busy ones for as long as they stay busy. Connections
 * still open `IDLE_CLOSE_MS` after the stop have sent nothing since: those are closed then (and
 * every second after, for responses that had already gone out).
 */
export function gracefulStop(server: Server, idleCloseMs = IDLE_CLOSE_MS): () => Promise<void> {
  let stopping = false;
  const unanswered = new Set<ServerResponse>();
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (stopping) {
      res.setHeader('connection', 'close');
      return;
    }
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
  });

  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= new Promise<void>((resolve) => {
      stopping = true;
      for (const res of unanswered) if (!res.headersSent) res.setHeader('connection', 'close');
      unanswered.clear();
      const sweep = setInterval(() => server.closeIdleConnections(), idleCloseMs);
      // net.Server's close: stop listening and wait for the connections, without http.Server's
      // immediate closeIdleConnections() (see above).
      NetServer.prototype.close.call(server, () => {
        clearInterval(sweep);
        resolve();
      });
    });
    return stopped;
  };
}
