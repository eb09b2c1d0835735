import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * How the site API key is kept in the ledger. The CLI and the headless agent store it as is
 * (the ledger file is readable by its owner only); the desktop app seals it with AES-256-GCM
 * under a key-encryption key that lives in the OS keychain (Electron safeStorage, held by main
 * and handed to the backend at start), so a copied ledger does not give away the key.
 */
export type SiteKeyVault = { seal(apiKey: string): Uint8Array; unseal(blob: Uint8Array): string };

const MAGIC = Buffer.from('fglv1');

export const plainVault: SiteKeyVault = {
  seal: (k) => Buffer.from(k, 'utf8'),
  unseal: (b) => {
    if (Buffer.from(b).subarray(0, MAGIC.length).equals(MAGIC))
      throw Object.assign(new Error('The site API key in this ledger is sealed by the desktop app’s OS keychain key.'), {
        code: 'key_sealed',
        hint: 'Use the desktop app on this computer, or enroll this tool separately with a new token.',
      });
    return Buffer.from(b).toString('utf8');
  },
};

export function aesVault(keyEncryptionKey: Uint8Array): SiteKeyVault {
  if (keyEncryptionKey.length !== 32) throw new Error('the key-encryption key must be 32 bytes');
  return {
    seal(apiKey) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', keyEncryptionKey, iv);
      const body = Buffer.concat([c.update(apiKey, 'utf8'), c.final()]);
      return Buffer.concat([MAGIC, iv, c.getAuthTag(), body]);
    },
    unseal(blob) {
      const b = Buffer.from(blob);
      if (!b.subarray(0, MAGIC.length).equals(MAGIC)) return b.toString('utf8'); // stored before sealing was on
      const iv = b.subarray(MAGIC.length, MAGIC.length + 12);
      const tag = b.subarray(MAGIC.length + 12, MAGIC.length + 28);
      const d = createDecipheriv('aes-256-gcm', keyEncryptionKey, iv);
      d.setAuthTag(tag);
      try {
        return Buffer.concat([d.update(b.subarray(MAGIC.length + 28)), d.final()]).toString('utf8');
      } catch {
        throw Object.assign(new Error('The site API key cannot be unsealed with this computer’s keychain key.'), {
          code: 'key_sealed',
          hint: 'The ledger may come from another computer or user account: enroll again with a new token.',
        });
      }
    },
  };
}
