import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyEncryptionKeyStore } from '../../src/main/key-encryption-key-store';
import { aesVault, plainVault } from '../../src/site/client/site-key-vault';

const dir = await mkdtemp(join(tmpdir(), 'fgl-kek-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

// Stand-in for Electron's safeStorage (OS keychain): a reversible transform we can detect on disk.
const xor = (b: Buffer) => Buffer.from(b.map((x) => x ^ 0x5a));
const safeStorage = (available: boolean) => ({
  isEncryptionAvailable: () => available,
  encryptString: (s: string) => xor(Buffer.from(s)),
  decryptString: (b: Buffer) => xor(b).toString(),
});

describe('site API key sealing (desktop)', () => {
  it('creates one 32-byte key-encryption key, kept only OS-encrypted with mode 0600, and returns the same key later', async () => {
    const store = new KeyEncryptionKeyStore(dir, safeStorage(true));
    const k1 = store.loadOrCreate()!;
    expect(k1).toHaveLength(32);
    const raw = await readFile(join(dir, 'site-kek.bin'));
    expect(raw.toString()).not.toContain(k1.toString('base64'));
    expect((await stat(join(dir, 'site-kek.bin'))).mode & 0o777).toBe(0o600);
    expect(new KeyEncryptionKeyStore(dir, safeStorage(true)).loadOrCreate()).toEqual(k1);
  });
  it('has no key when the OS offers no encryption', () => {
    expect(new KeyEncryptionKeyStore(join(dir, 'none'), safeStorage(false)).loadOrCreate()).toBeNull();
  });
  it('seals the API key so the ledger bytes do not contain it, and only the same key unseals it', () => {
    const key = Buffer.alloc(32, 7);
    const sealed = aesVault(key).seal('fgl_site_secret_key_123');
    expect(Buffer.from(sealed).toString('latin1')).not.toContain('fgl_site_secret_key_123');
    expect(aesVault(key).unseal(sealed)).toBe('fgl_site_secret_key_123');
    expect(() => aesVault(Buffer.alloc(32, 8)).unseal(sealed)).toThrow(/cannot be unsealed/);
    expect(() => plainVault.unseal(sealed)).toThrow(/sealed by the desktop app/);
    expect(plainVault.unseal(plainVault.seal('k'))).toBe('k');
  });
});
