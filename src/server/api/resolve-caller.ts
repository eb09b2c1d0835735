import type { FastifyRequest } from 'fastify';
import { sameDigest, secretHash } from '../auth/secret-token';
import type { ServerStore } from '../store/server-store';
import { HttpError } from './http-error';
import type { Caller, CallerResolver } from './route-def';

/**
 * `Authorization: Bearer <key>` → who is calling. Keys are compared by sha256 (the admin key in
 * constant time); an unknown or revoked key is a 401, never silently anonymous.
 */
export function callerResolver(store: ServerStore, adminKeySha256: string): CallerResolver {
  return async (req: FastifyRequest): Promise<Caller> => {
    const header = req.headers.authorization;
    if (header === undefined || header === '') return { kind: 'anonymous' };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m)
      throw new HttpError(
        401,
        'unauthorized',
        'the Authorization header must be `Bearer <key>`',
        'Send `Authorization: Bearer <key>`.',
        { 'www-authenticate': 'Bearer' },
      );
    const hash = secretHash(m[1]!);
    if (sameDigest(hash, adminKeySha256)) return { kind: 'admin' };
    const siteId = await store.sites.forKey(hash);
    if (siteId !== undefined) return { kind: 'site', siteId };
    const workerId = await store.workers.forKey(hash);
    if (workerId !== undefined) return { kind: 'worker', workerId };
    throw new HttpError(
      401,
      'invalid_api_key',
      'the API key is not valid (unknown or revoked)',
      'Check the key, or enroll again with a new token from the study coordinator.',
      {
        'www-authenticate': 'Bearer error="invalid_token"',
      },
    );
  };
}
