import { readFileSync } from 'node:fs';

/**
 * No Docker engine runs here, so what the images are made of is checked in their sources: the
 * production stage carries no demo config and checks readiness on the operations listener, and
 * the compose demo still finds its config.
 */
const dockerfile = readFileSync('docker/Dockerfile', 'utf8');
const compose = readFileSync('docker/compose.yaml', 'utf8');

/** The instructions of one stage of the Dockerfile (comments and continuations joined). */
function stage(name: string): string[] {
  const lines = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const start = lines.findIndex((l) => new RegExp(`^FROM .* AS ${name}$`).test(l));
  const end = lines.findIndex((l, i) => i > start && l.startsWith('FROM '));
  return lines.slice(start, end < 0 ? undefined : end);
}

describe('the container images', () => {
  it('the Latch image copies no config/ (production refuses the demo config, and it has public secrets)', () => {
    const latch = stage('latch');
    expect(latch[0]).toMatch(/^FROM node:24/);
    expect(latch.filter((l) => /^COPY\b.*\bconfig\b/.test(l))).toEqual([]);
    expect(latch.find((l) => l.startsWith('ENV '))).toMatch(/NODE_ENV=production/);
  });

  it('its healthcheck asks /readyz on the operations listener, not the public port', () => {
    const check = stage('latch').find((l) => l.startsWith('HEALTHCHECK'));
    expect(check).toContain("process.env.LATCH_OPS_PORT||9464)+'/readyz'");
    expect(check).not.toContain('process.env.PORT');
  });

  it('the compose demo runs in development mode and mounts the demo config read-only where LATCH_CONFIG points', () => {
    expect(compose).toMatch(/NODE_ENV: development/);
    expect(compose).toMatch(/LATCH_CONFIG: \/app\/config\/demo\.json/);
    expect(compose).toContain('"../config/demo.json:/app/config/demo.json:ro"');
  });
});
