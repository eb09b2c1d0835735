import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_VOCABULARY, readVocabulary, vocabularyNames } from '../../../src/cli/resources';
import { main } from '../../../src/cli/main';
import { ServerStore } from '../../../src/server/store/server-store';
import { dataLayout } from '../../../src/server/store/data-layout';
import { scrubPhi } from '../../../src/site/privacy/phi-scrub';
import { loadDefaultPhiNames } from '../../../src/site/site-resources';
import { StudyManifest } from '../../../src/shared/study';

const DOMAINS = ['radiology', 'dermatology', 'pathology', 'ophthalmology', 'general-photos'];

describe('the shipped controlled vocabularies (issue #15 item 5)', () => {
  it('has a reviewed list per domain, and the default is not colours and shapes', async () => {
    expect(vocabularyNames()).toEqual(expect.arrayContaining([...DOMAINS, 'shapes']));
    expect(DEFAULT_VOCABULARY).toBe('general-photos');
    expect((await readVocabulary('radiology')).phrases).toEqual(expect.arrayContaining(['chest x-ray', 'pleural effusion', 'enlarged heart']));
  });

  it.each(DOMAINS)('%s: short lowercase phrases, no duplicates, nothing the PHI scrub would flag, valid in a study', async (name) => {
    const { phrases } = await readVocabulary(name);
    expect(phrases.length).toBeGreaterThanOrEqual(30);
    expect(new Set(phrases).size).toBe(phrases.length);
    const names = await loadDefaultPhiNames();
    for (const p of phrases) {
      expect(p, p).toMatch(/^[a-z0-9][a-z0-9 -]*[a-z0-9]$/);
      expect(p.length, p).toBeLessThanOrEqual(100);
      expect(scrubPhi(p, { names, action: 'redact' }).redacted, p).toBe(0);
    }
    expect(StudyManifest.shape.prompts.shape.vocabulary.safeParse(phrases).success).toBe(true);
  });
});

const tmp = await mkdtemp(join(tmpdir(), 'fgl-vocab-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('`--vocabulary NAME` chooses the study’s list', () => {
  let out = '';
  let err = '';
  beforeEach(() => {
    out = '';
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  });
  afterEach(() => vi.restoreAllMocks());

  it('server study create --vocabulary radiology stores exactly the radiology phrases', async () => {
    const dataDir = join(tmp, 'srv');
    expect(await main(['server', 'study', 'create', '--data-dir', dataDir, '--name', 'Chest', '--classes', 'normal,pneumonia', '--vocabulary', 'radiology', '--json'])).toBe(0);
    const { studyId, vocabulary } = JSON.parse(out) as { studyId: string; vocabulary: string };
    expect(vocabulary).toBe('radiology');
    const store = await ServerStore.open(dataLayout(dataDir).db);
    try {
      expect((await store.studies.get(studyId))!.manifest.prompts.vocabulary).toEqual((await readVocabulary('radiology')).phrases);
    } finally {
      store.close();
    }
  });

  it('an unknown name is refused with the names there are', async () => {
    expect(await main(['server', 'study', 'create', '--data-dir', join(tmp, 'srv2'), '--name', 'x', '--classes', 'a,b', '--vocabulary', 'radiolgy'])).toBe(2);
    expect(err).toContain('--vocabulary "radiolgy" is neither a vocabulary of FGL nor a file.');
    expect(err).toContain('Choose one of dermatology, general-photos, ophthalmology, pathology, radiology, shapes');
  });
});
