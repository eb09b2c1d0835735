import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AMBIGUOUS_NAME_WORDS,
  findPhi,
  PHI_TAGS,
  scrubPhi,
} from '../../../src/site/privacy/phi-scrub';
import { loadPhiNames } from '../../../src/site/privacy/load-phi-names';

const NAMES_PATH = fileURLToPath(new URL('../../../resources/phi/names.txt', import.meta.url));
let names: Set<string>;
beforeAll(async () => {
  names = await loadPhiNames(NAMES_PATH);
});
const redact = (text: string): string | null => scrubPhi(text, { action: 'redact', names }).text;

describe('planted PHI is redacted, by kind', () => {
  it.each([
    ['ISO date', 'scan on 2023-04-01 follow-up', 'scan on [DATE] follow-up'],
    ['ISO datetime', 'acquired 2023-04-01T14:32:05Z', 'acquired [DATE]'],
    ['US date', 'seen 04/01/2023.', 'seen [DATE].'],
    ['EU date with dots', 'seen 01.04.2023 in clinic', 'seen [DATE] in clinic'],
    ['two-digit year', 'dated 4/1/23', 'dated [DATE]'],
    ['day month year', 'on 1 Apr 2023', 'on [DATE]'],
    ['day of month', 'the 1st of April 2023', 'the [DATE]'],
    ['dashed month', 'on 01-Apr-2023', 'on [DATE]'],
    ['month day, year', 'April 1st, 2023 image', '[DATE] image'],
    ['month day without year', 'taken April 1st', 'taken [DATE]'],
    ['abbreviated month', 'taken Sept. 3, 2021', 'taken [DATE]'],
    ['month year', 'since May 2023', 'since [DATE]'],
    ['birth year', 'DOB: 1930, born in 1931', 'DOB: [DATE], born in [DATE]'],
    ['long digit run', 'counter 4455667 on slide', 'counter [DIGITS] on slide'],
    ['specimen number', 'specimen 4455667 on slide', 'specimen [RECORD_ID] on slide'],
    ['MRN', 'MRN: 12345', 'MRN: [RECORD_ID]'],
    ['accession', 'ACC#A1234567', 'ACC#[RECORD_ID]'],
    ['accession no.', 'accession no. X12-3345', 'accession no. [RECORD_ID]'],
    ['patient id', 'patient id 998', 'patient id [RECORD_ID]'],
    ['bare alphanumeric id', 'label AB12-3456 on film', 'label [RECORD_ID] on film'],
    ['SSN', 'ssn 123-45-6789', 'ssn [RECORD_ID]'],
    ['e-mail', 'from j.doe+x@mail.example.org', 'from [EMAIL]'],
    ['international phone', 'call +44 20 7946 0958 now', 'call [PHONE] now'],
    ['US phone, parentheses', 'call (555) 123-4567', 'call [PHONE]'],
    ['US phone, dashes', 'call 555-123-4567', 'call [PHONE]'],
    ['US phone, dots', 'call 555.123.4567', 'call [PHONE]'],
    ['UK national phone', 'ring 020 7946 0958', 'ring [PHONE]'],
    ['labelled phone', 'tel: 4930 8812', 'tel: [PHONE]'],
    ['URL', 'see https://pacs.example.com/study?id=9.', 'see [URL].'],
    ['www URL', 'at www.hospital.org/x', 'at [URL]'],
    ['bare domain', 'at radiology.example.net', 'at [URL]'],
    ['IP address', 'from 192.168.10.21', 'from [IP]'],
    ['street address', 'lives at 12 Elm Grove Road', 'lives at [ADDRESS]'],
    ['UK postcode', 'near SW1A 1AA', 'near [POSTCODE]'],
    ['ZIP+4', 'zip 90210-1234', 'zip [POSTCODE]'],
    ['Canadian postcode', 'at K1A 0B1', 'at [POSTCODE]'],
    ['age over 89', 'a 92-year-old man', 'a [AGE] man'],
    ['age over 89, "aged"', 'woman aged 95', 'woman aged [AGE]'],
    ['age over 89, yo', '101 yo female', '[AGE] female'],
    ['nonagenarian', 'a nonagenarian', 'a [AGE]'],
    ['first + last name', 'photo of John Smith', 'photo of [NAME]'],
    ['lowercase name', 'photo of emma with her cat', 'photo of [NAME] with her cat'],
    ['honorific + unknown surname', 'reviewed by Dr. Xyzzyk', 'reviewed by Dr. [NAME]'],
    ['honorific + everyday-word surname', 'Mr. Brown arrived', 'Mr. [NAME] arrived'],
    ['two everyday-word names', 'Grace Brown smiling', '[NAME] smiling'],
    ['patient + name', 'patient Anderson in bed', 'patient [NAME] in bed'],
    ['initial + surname', 'J. Smith', '[NAME]'],
    ['middle initial + unknown surname', 'John A. Doe', '[NAME]'],
    ['first name + unknown surname', 'Maria Zbrzezny', '[NAME]'],
    ['accented name', 'José García', '[NAME]'],
    ['apostrophe surname', "Sean O'Brien", '[NAME]'],
    ['hyphenated name', 'Mary-Jane Watson', '[NAME]'],
    ['ALL CAPS name', 'SMITH, JOHN', '[NAME]'],
    ['lowercase honorific', 'seen by dr smith', 'seen by dr [NAME]'],
    ['name label in capitals', 'Name: ROSE WHITE', 'Name: [NAME]'],
    ['honorific beats eponym', "Dr. Wilson's disease clinic", "Dr. [NAME]'s disease clinic"],
    [
      'full name before a medical noun is still a name',
      "John Smith's fracture",
      "[NAME]'s fracture",
    ],
    ['initial + surname before a medical noun', 'J. Wilson disease', '[NAME] disease'],
    ['possessive name', "Emma's scan", "[NAME]'s scan"],
  ])('%s', (_kind, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('ages of 89 and under are kept (HIPAA only aggregates over 89)', () => {
    expect(redact('a 45-year-old woman, aged 89')).toBe('a 45-year-old woman, aged 89');
  });

  it('counts findings per kind and in total', () => {
    const r = scrubPhi(
      'John Smith (MRN 884422) seen 2023-01-02 and 2023-02-03, call 555-123-4567',
      { action: 'redact', names },
    );
    expect(r.text).toBe('[NAME] (MRN [RECORD_ID]) seen [DATE] and [DATE], call [PHONE]');
    expect(r.findings).toEqual([
      { kind: 'date', count: 2 },
      { kind: 'record_id', count: 1 },
      { kind: 'phone', count: 1 },
      { kind: 'name', count: 1 },
    ]);
    expect(r.redacted).toBe(5);
  });

  it('e-mail and URL win over the names and digits inside them', () => {
    expect(redact('mail john.smith@hospital.org')).toBe('mail [EMAIL]');
    expect(redact('https://x.org/patients/john/123456')).toBe('[URL]');
  });

  it('drop returns null for a caption with PHI and the caption itself when clean', () => {
    const dropped = scrubPhi('a chest x-ray of John Smith', { action: 'drop', names });
    expect(dropped).toEqual({ text: null, findings: [{ kind: 'name', count: 1 }], redacted: 1 });
    expect(scrubPhi('a chest x-ray', { action: 'drop', names })).toEqual({
      text: 'a chest x-ray',
      findings: [],
      redacted: 0,
    });
  });

  it('scrubbing is idempotent: tags are not matched again', () => {
    const once = redact('Dr. Lee saw MRN 12345 on 2023-04-01')!;
    expect(redact(once)).toBe(once);
    expect(findPhi(Object.values(PHI_TAGS).join(' '), names)).toEqual([]);
  });
});

// Typical captioner output and medical phrasing: none of it is PHI.
const CLEAN_CAPTIONS = [
  'a photo of a dog on grass',
  'a man riding a skateboard down a street',
  'a woman holding a tennis racquet on a court',
  'a black and white photo of a clock tower',
  'a red fire hydrant sitting on the side of a road',
  'a herd of sheep grazing on a lush green field',
  'a man in a suit and tie standing in front of a building',
  'a young boy brushing his teeth in the bathroom',
  'a teddy bear sitting on a chair',
  'a snowboarder going down a snowy hill',
  'a vase filled with flowers on a table',
  'a kite flying in the sky over the beach',
  'a wooden bench in a park',
  'a golden retriever playing in the snow',
  'a hunter in the woods with a dog',
  'a king size bed in a hotel room',
  'a church on a hill',
  'a long line of people waiting',
  'a rose on a white background',
  'a bill on the counter',
  'a mark on the skin near the elbow',
  'a young woman with a brown coat',
  'grace notes on sheet music',
  'a chest x-ray showing a large mass in the right upper lobe',
  'an mri of the brain showing a bright lesion',
  'an x-ray of a hand with a fractured bone',
  'a microscopic image of cells stained pink and purple',
  'a dermoscopic image of a brown mole with an irregular border',
  'a histology slide of breast tissue at 40x magnification',
  'a small nodule in the left lower lobe',
  'a large stone in the right kidney',
  'frank blood in the bladder',
  'a gross specimen of the colon with a polyp',
  'an iris nevus in the left eye',
  'a branch of the pulmonary artery',
  'ground glass opacity in both lungs',
  'a patient with a walker on the ward',
  'the femoral head is intact with no fracture',
  'may represent a benign cyst',
  'will need follow-up in 6 months',
  'grade 2 may be benign',
  'a 1000mg tablet shown on a 1920x1080 screen',
  'a T2-weighted MRI of the knee',
  'BRCA1 mutation, HbA1c 6.5, COVID-19, ResNet50',
  'the image is 512 x 512 pixels',
  'a Foley catheter in the bladder',
  'Jones fracture of the fifth metatarsal',
  "Barrett's esophagus on endoscopy",
  'Hashimoto thyroiditis on ultrasound',
  'Salter-Harris type II fracture of the distal tibia',
  'Reed-Sternberg cells in a lymph node biopsy',
  'Howell-Jolly bodies on a blood smear',
  'Fitzpatrick skin type III with a pigmented lesion',
  "Baker's cyst behind the knee",
  "Graves' disease with diffuse goiter",
  'Turner syndrome karyotype',
  "Addison's disease with adrenal atrophy",
  "Hughes' syndrome on a venogram",
  'Hill-Sachs lesion of the humeral head',
  'Wilson disease with a Kayser-Fleischer ring',
  'a Jackson-Pratt drain in the abdomen',
  'a 45 year old woman with a cough',
];

describe('no false positives on ordinary captions', () => {
  it.each(CLEAN_CAPTIONS)('%s', (caption) => {
    expect(redact(caption)).toBe(caption);
    const capitalised = caption[0]!.toUpperCase() + caption.slice(1);
    expect(redact(capitalised)).toBe(capitalised);
  });

  it('the brief stop words are everyday words unless in a name context', () => {
    for (const w of ['may', 'will', 'bill', 'rose', 'grace', 'mark', 'white', 'brown', 'young']) {
      expect(AMBIGUOUS_NAME_WORDS.has(w)).toBe(true);
      expect(names.has(w)).toBe(true);
    }
    expect(redact('Will Smith and May Brown')).toBe('[NAME] and [NAME]');
    expect(redact('Rose')).toBe('Rose');
  });
});

describe('evasions the adversarial review found (issue #12)', () => {
  it.each([
    ['lowercase date next to a day', 'xray taken march 3rd', 'xray taken [DATE]'],
    ['digit groups after an ID keyword', 'ssn 123 45 6789', 'ssn [RECORD_ID]'],
    ['full-width digits', 'MRN １２３４５６７', 'MRN [RECORD_ID]'],
    ['Cyrillic look-alikes in a name', 'photo of Jоhn Smith', 'photo of [NAME]'],
    ['spelled-out age', 'a ninety-two year old woman', 'a [AGE] woman'],
    ['hospital name', "from St Mary's Hospital today", 'from [PLACE] today'],
  ])('%s: %j → %j', (_k, input, expected) => {
    const out = redact(input);
    console.log(`PHI ${JSON.stringify(input)} → ${JSON.stringify(out)}`);
    expect(out).toBe(expected);
  });
});

describe('held-out evaluation corpus (tests/fixtures/phi-eval/held-out.json)', () => {
  it('no listed PHI survives, and ordinary captions come back unchanged', async () => {
    const { readFile } = await import('node:fs/promises');
    const corpus = JSON.parse(
      await readFile(new URL('../../fixtures/phi-eval/held-out.json', import.meta.url), 'utf8'),
    ) as {
      phi: { text: string; leak: string[] }[];
      keep: string[];
    };
    const leaks = corpus.phi.flatMap((c) => {
      const out = redact(c.text) ?? '';
      return c.leak
        .filter((l) => out.includes(l))
        .map(
          (l) =>
            `${JSON.stringify(c.text)} → ${JSON.stringify(out)} still has ${JSON.stringify(l)}`,
        );
    });
    const changed = corpus.keep
      .filter((t) => redact(t) !== t)
      .map((t) => `${JSON.stringify(t)} → ${JSON.stringify(redact(t))}`);
    const caught = corpus.phi.length - new Set(leaks.map((l) => l.split(' → ')[0])).size;
    console.log(
      `PHI held-out: ${caught}/${corpus.phi.length} captions fully scrubbed; ${corpus.keep.length - changed.length}/${corpus.keep.length} ordinary captions unchanged\n${[...leaks, ...changed].join('\n')}`,
    );
    expect(leaks).toEqual([]);
    expect(changed).toEqual([]);
  });
});
