import { readFileSync } from 'node:fs';
import type { Context, Next } from 'koa';

const css = readFileSync(new URL('./assets/latch.css', import.meta.url));

/** The single stylesheet the pages use (served from memory; CSP allows only same-origin styles). */
export async function staticAssets(ctx: Context, next: Next) {
  if (ctx.path !== '/assets/latch.css') return next();
  ctx.type = 'text/css';
  ctx.set('cache-control', 'public, max-age=3600');
  ctx.body = css;
}
