import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { ImpossibleTravelConfig } from '../config/schema.js';
import type { Location } from './location.js';

export interface LoginRecord extends Location {
  at: number;
  /** accepted, or the action taken: revoke / deny (refused), alert (accepted, flagged). */
  outcome: 'accepted' | 'revoke' | 'deny' | 'alert';
}

export interface Travel {
  from: LoginRecord;
  to: LoginRecord;
  distanceKm: number;
  hours: number;
  speedKmh: number;
}

export type Verdict = { action: 'allow' } | { action: 'revoke' | 'deny' | 'alert'; travel: Travel };

const KEEP = 50;
const EARTH_RADIUS_KM = 6371;

/** Great-circle distance (haversine). */
export function distanceKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = (d: number) => (d * Math.PI) / 180;
  const dLat = rad(b.latitude - a.latitude);
  const dLon = rad(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

function located(l: Location): l is Location & { latitude: number; longitude: number } {
  return typeof l.latitude === 'number' && typeof l.longitude === 'number';
}

/**
 * Compares each login with the account's previous accepted, located login: faster than
 * `maxSpeedKmh` over more than `minDistanceKm` is impossible travel. Every login is recorded;
 * private and unknown addresses are recorded but never trigger.
 */
export class TravelGuard {
  readonly #store: RedisStore;
  readonly #config: ImpossibleTravelConfig;

  constructor(store: RedisStore, config: ImpossibleTravelConfig) {
    this.#store = store;
    this.#config = config;
  }

  async history(sub: string, limit = 20): Promise<LoginRecord[]> {
    const rows = await this.#store.run((redis) => redis.lrange(this.#store.keys.accountLogins(sub), '0', String(limit - 1)));
    return rows.map((row) => JSON.parse(row) as LoginRecord);
  }

  async check(sub: string, location: Location, at = Date.now()): Promise<Verdict> {
    let verdict: Verdict = { action: 'allow' };
    if (this.#config.action !== 'off' && located(location)) {
      const previous = (await this.history(sub, KEEP)).find((l) => l.outcome !== 'revoke' && l.outcome !== 'deny' && located(l));
      if (previous && located(previous)) {
        const km = distanceKm(previous, location);
        const hours = Math.max((at - previous.at) / 3_600_000, 1 / 3600);
        const speed = km / hours;
        if (km > this.#config.minDistanceKm && speed > this.#config.maxSpeedKmh) {
          const to: LoginRecord = { ...location, at, outcome: this.#config.action };
          verdict = { action: this.#config.action, travel: { from: previous, to, distanceKm: Math.round(km), hours: Math.round(hours * 1000) / 1000, speedKmh: Math.round(speed) } };
        }
      }
    }
    const record: LoginRecord = { ...location, at, outcome: verdict.action === 'allow' ? 'accepted' : verdict.action };
    const key = this.#store.keys.accountLogins(sub);
    await this.#store.run((redis) =>
      redis.pipeline().lpush(key, JSON.stringify(record)).ltrim(key, 0, KEEP - 1).expire(key, 180 * 24 * 3600).exec(),
    );
    return verdict;
  }
}

export function describe(place: LoginRecord): string {
  return place.place ?? (located(place) ? `${place.latitude.toFixed(2)}, ${place.longitude.toFixed(2)}` : place.ip);
}
