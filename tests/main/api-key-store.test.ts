import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../src/main/api-key-store';

const dir = await mkdtemp(join(tmpdir(), 'fgl-keys-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

// Stand-in for Electron's safeStorage (OS keychain): a reversible transform we can detect on disk.
const xor = (b: Buffer) => Buffer.from(b.map((x) => x ^ 0x5a));
const safeStorage = (available: boolean) => ({
  isEncryptionAvailable: () => available,
  encryptString: (s: string) => xor(Buffer.from(s)),
  decryptString: (b: Buffer) => xor(b).toString(),
});

describe('site API key store', () => {
  it('stores the key only encrypted, with mode 0600, and reads it back', async () => {
    const store = new ApiKeyStore(dir, safeStorage(true));
    expect(store.save('fgl_site_secret_key')).toBe(true);
    const raw = await readFile(join(dir, 'site-api-key.bin'));
    expect(raw.toString()).not.toContain('fgl_site_secret_key');
    expect((await stat(join(dir, 'site-api-key.bin'))).mode & 0o777).toBe(0o600);
    expect(store.load()).toBe('fgl_site_secret_key');
  });
  it('refuses to store a plaintext key when OS encryption is unavailable', () => {
    const store = new ApiKeyStore(join(dir, 'none'), safeStorage(false));
    expect(store.save('k')).toBe(false);
    expect(store.load()).toBeNull();
  });
});
