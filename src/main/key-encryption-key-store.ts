import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

type SafeStorageLike = {
  isEncryptionAvailable(): boolean;
  /** Linux only: which secret store backs the encryption (`basic_text` = a hard-coded password). */
  getSelectedStorageBackend?(): string;
  encryptString(s: string): Buffer;
  decryptString(b: Buffer): string;
};

/**
 * The key-encryption key that seals the site API key in the ledger (src/site/client/site-key-vault.ts).
 * It is kept only encrypted by the OS keychain via Electron's safeStorage (never in
 * localStorage, never in clear on disk) and handed to the backend process at start. Without OS
 * encryption there is no key: the ledger then keeps the API key as the CLI does (owner-only file).
 */
export class KeyEncryptionKeyStore {
  private readonly file: string;
  constructor(
    dir: string,
    private readonly safeStorage: SafeStorageLike,
    private readonly warn: (line: string) => void = (l) => console.warn(l),
  ) {
    this.file = join(dir, 'site-kek.bin');
  }

  /**
   * Whether safeStorage really protects secrets. On Linux without a keyring (no GNOME keyring,
   * no KWallet) Chromium falls back to `basic_text`: "encryption" with a password hard-coded in
   * Chromium, which anyone can undo; `unknown` is no better. Both count as unavailable.
   */
  private osEncryption(): boolean {
    if (!this.safeStorage.isEncryptionAvailable()) return false;
    const backend = this.safeStorage.getSelectedStorageBackend?.();
    if (backend === 'basic_text' || backend === 'unknown') {
      this.warn(
        `OS encryption is not really available (safeStorage backend "${backend}": a fixed, publicly known password). ` +
          'The site API key is kept in the owner-only ledger file instead, as the CLI does. Install and unlock a keyring (GNOME Keyring or KWallet) to have it sealed.',
      );
      return false;
    }
    return true;
  }

  /** The existing key, or a new random one (saved); null when the OS offers no real encryption. */
  loadOrCreate(): Buffer | null {
    if (!this.osEncryption()) return null;
    if (existsSync(this.file)) {
      try {
        return Buffer.from(this.safeStorage.decryptString(readFileSync(this.file)), 'base64');
      } catch {
        return null; // another user's or machine's keychain: the operator re-enrolls
      }
    }
    const key = randomBytes(32);
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, this.safeStorage.encryptString(key.toString('base64')), { mode: 0o600 });
    renameSync(tmp, this.file);
    return key;
  }
}
