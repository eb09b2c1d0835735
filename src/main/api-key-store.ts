import { readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

type SafeStorageLike = {
  isEncryptionAvailable(): boolean;
  encryptString(s: string): Buffer;
  decryptString(b: Buffer): string;
};

/**
 * The site API key, encrypted with the OS keychain via Electron's safeStorage (never in
 * localStorage, never in the ledger in clear). Without OS encryption the key is not stored at
 * all: the operator re-enrolls, which is safer than a plaintext key on disk.
 */
export class ApiKeyStore {
  private readonly file: string;
  constructor(
    dir: string,
    private readonly safeStorage: SafeStorageLike,
  ) {
    this.file = join(dir, 'site-api-key.bin');
  }

  save(key: string): boolean {
    if (!this.safeStorage.isEncryptionAvailable()) return false;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, this.safeStorage.encryptString(key), { mode: 0o600 });
    renameSync(tmp, this.file);
    return true;
  }

  load(): string | null {
    if (!existsSync(this.file) || !this.safeStorage.isEncryptionAvailable()) return null;
    try {
      return this.safeStorage.decryptString(readFileSync(this.file));
    } catch {
      return null;
    }
  }
}
