import { describe, expect, it } from 'vitest';
import { takeAgentToken } from '../../src/renderer/api/agent-token';
import { describeError } from '../../src/renderer/api/call-error';
import {
  formatBytes,
  formatDuration,
  formatPercent,
  formatRate,
  shortHash,
} from '../../src/renderer/format/format-values';
import { groupFingerprint, sameFingerprint } from '../../src/shared/fingerprint';
import {
  heatColour,
  linearScale,
  niceTicks,
  paddedExtent,
} from '../../src/renderer/format/plot-scale';

describe('takeAgentToken', () => {
  const place = (hash: string, stored: string | null = null) => {
    const storage = new Map<string, string>(stored ? [['fgl.agentSessionToken', stored]] : []);
    const replaced: string[] = [];
    return {
      storage,
      replaced,
      place: {
        location: { hash, pathname: '/', search: '' },
        storage: {
          getItem: (k: string) => storage.get(k) ?? null,
          setItem: (k: string, v: string) => void storage.set(k, v),
        },
        history: {
          replaceState: (_d: unknown, _t: string, url?: string | URL | null) =>
            void replaced.push(String(url)),
        },
      },
    };
  };

  it('takes the token from the fragment, keeps it in session storage and clears the URL', () => {
    const p = place('#token=abc_DEF-123');
    expect(takeAgentToken(p.place)).toBe('abc_DEF-123');
    expect(p.storage.get('fgl.agentSessionToken')).toBe('abc_DEF-123');
    expect(p.replaced).toEqual(['/']);
  });

  it('falls back to the stored token after a reload, without touching the URL', () => {
    const p = place('', 'stored');
    expect(takeAgentToken(p.place)).toBe('stored');
    expect(p.replaced).toEqual([]);
  });

  it('a new link replaces an old stored token; no token at all gives null', () => {
    const p = place('#token=new', 'old');
    expect(takeAgentToken(p.place)).toBe('new');
    expect(takeAgentToken(place('#other=1').place)).toBeNull();
  });
});

describe('describeError', () => {
  it('keeps code, message and hint of a preload-style error and of plain values', () => {
    expect(
      describeError(
        Object.assign(new Error('Scan failed'), { code: 'not_found', hint: 'Check the path' }),
      ),
    ).toEqual({ code: 'not_found', message: 'Scan failed', hint: 'Check the path' });
    expect(describeError(new Error('boom'))).toEqual({ code: 'error', message: 'boom' });
    expect(describeError('text')).toEqual({ code: 'error', message: 'text' });
  });
});

describe('format values', () => {
  it('formats bytes, durations, rates and percentages', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(formatBytes(-1)).toBe('—');
    expect(formatDuration(null)).toBe('unknown');
    expect(formatDuration(44.6)).toBe('45 s');
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(7500)).toBe('2 h 05 min');
    expect(formatRate(0)).toBe('—');
    expect(formatRate(12.4)).toBe('12/s');
    expect(formatRate(2.25)).toBe('2.3/s');
    expect(formatRate(0.5)).toBe('30.0/min');
    expect(formatPercent(0.8734)).toBe('87.3%');
    expect(formatPercent(null)).toBe('—');
  });

  it('groups a fingerprint in fours and compares fingerprints ignoring separators and case', () => {
    const hex = 'ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12';
    expect(groupFingerprint(hex)).toBe(
      'ab12 cd34 ef56 ab12 cd34 ef56 ab12 cd34 ef56 ab12 cd34 ef56 ab12 cd34 ef56 ab12',
    );
    expect(groupFingerprint('ab:12:cd:34:ef')).toBe('ab12 cd34 ef');
    expect(groupFingerprint('SHA256:abcdefgh')).toBe('SHA256: abcd efgh');
    expect(sameFingerprint(hex, groupFingerprint(hex).toUpperCase())).toBe(true);
    expect(sameFingerprint(hex, hex.replace(/2$/, '3'))).toBe(false);
    expect(sameFingerprint('', '')).toBe(false);
    expect(shortHash(hex)).toBe('ab12cd34…cd34ef56'.replace('cd34ef56', hex.slice(-8)));
    expect(shortHash('short')).toBe('short');
  });
});

describe('plot scales', () => {
  it('maps domains linearly, including inverted ranges and a zero-width domain', () => {
    const s = linearScale(0, 10, 100, 0);
    expect(s(0)).toBe(100);
    expect(s(10)).toBe(0);
    expect(s(2.5)).toBe(75);
    expect(linearScale(3, 3, 0, 50)(3)).toBe(25);
  });

  it('pads extents and survives empty or constant data', () => {
    expect(paddedExtent([0, 10], 0.1)).toEqual([-1, 11]);
    expect(paddedExtent([])).toEqual([0, 1]);
    expect(paddedExtent([5, 5], 0)).toEqual([4, 6]);
  });

  it('chooses round ticks that cover the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-3.2, 7.9, 5)).toEqual([-2, 0, 2, 4, 6]);
    expect(niceTicks(0, 100, 4)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0.3, 0.31, 3)).toEqual([0.3, 0.305, 0.31]);
  });

  it('shades the heat map from white to blue and clamps shares', () => {
    expect(heatColour(0)).toBe('hsl(215 70% 97%)');
    expect(heatColour(1)).toBe('hsl(215 70% 42%)');
    expect(heatColour(2)).toBe(heatColour(1));
    expect(heatColour(Number.NaN)).toBe(heatColour(0));
  });
});
