import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IPC_CALL, IPC_EVENT } from '../../src/shared/ipc-channels';

// The channel names are defined once, in src/shared, and both ends import them: no copy remains.
describe('IPC channel names', () => {
  it('keep their wire names', () => {
    expect([IPC_CALL, IPC_EVENT]).toEqual(['fgl:call', 'fgl:event']);
  });

  it('appear as literals only in src/shared/ipc-channels.ts; main and the preload import them', () => {
    for (const file of ['src/main/ipc.ts', 'src/preload/index.ts']) {
      const src = readFileSync(file, 'utf8');
      expect(src).toContain("from '../shared/ipc-channels'");
      expect(src).not.toMatch(/'fgl:(call|event)'/);
    }
  });
});
