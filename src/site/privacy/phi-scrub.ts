/**
 * PHI scrubbing of caption text before it becomes a prompt. Finds HIPAA Safe Harbor style
 * identifiers — dates, long digit runs, record/accession/ID numbers, e-mails, phone numbers,
 * URLs, IP addresses, street addresses, postcodes, ages over 89 and person names — and either
 * redacts each match with a kind tag (`[DATE]`) or drops the whole caption.
 *
 * Deliberately biased toward redaction: a false positive costs a word of a prompt, a false
 * negative leaks PHI. The one place it holds back is names that are also everyday or medical
 * words (may, rose, brown, foley, ward…): those count only when capitalised and next to another
 * name or after an honorific, and a lone surname followed by a medical noun ("Wilson disease",
 * "Jones fracture") is read as an eponym.
 *
 * The caption is first folded (`foldForScrub`: NFKC, invisible characters removed, Cyrillic /
 * Greek look-alikes to Latin), so full-width digits and "Jоhn" with a Cyrillic о are seen.
 *
 * Pure: the names list is passed in (load it with `loadPhiNames`).
 */

export type PhiKind =
  | 'url'
  | 'email'
  | 'ip'
  | 'record_id'
  | 'date'
  | 'phone'
  | 'address'
  | 'place'
  | 'postcode'
  | 'age'
  | 'digits'
  | 'name';

/** Tag written in place of each redacted match. */
export const PHI_TAGS: Record<PhiKind, string> = {
  url: '[URL]',
  email: '[EMAIL]',
  ip: '[IP]',
  record_id: '[RECORD_ID]',
  date: '[DATE]',
  phone: '[PHONE]',
  address: '[ADDRESS]',
  place: '[PLACE]',
  postcode: '[POSTCODE]',
  age: '[AGE]',
  digits: '[DIGITS]',
  name: '[NAME]',
};

/** Overlap resolution order: an earlier kind wins a contested stretch of text. */
const PRIORITY: PhiKind[] = [
  'email',
  'url',
  'ip',
  'date',
  'record_id',
  'phone',
  'address',
  'place',
  'postcode',
  'age',
  'digits',
  'name',
];

export interface PhiSpan {
  start: number;
  end: number;
  kind: PhiKind;
}

export interface PhiFinding {
  kind: PhiKind;
  count: number;
}

export interface PhiScrubOptions {
  action: 'redact' | 'drop';
  /** Lowercase, diacritic-free first names and surnames (resources/phi/names.txt). */
  names: ReadonlySet<string>;
}

export interface PhiScrubResult {
  /** The redacted caption; null when the caption had PHI and the action is 'drop'. */
  text: string | null;
  /** Matches per kind (kinds with none are omitted), in PRIORITY order. */
  findings: PhiFinding[];
  /** Number of matches removed (replaced by tags, or dropped with the caption). */
  redacted: number;
}

/**
 * Names that are also common English, place or medical words. Lowercase they are never names;
 * capitalised they are names only next to another name or after an honorific ("Grace Brown",
 * "Dr. Ward"), so "a brown mole", "Foley catheter", "May 2023 follow-up" stay as they are.
 */
export const AMBIGUOUS_NAME_WORDS: ReadonlySet<string> = new Set(
  `
ada alma amber angel april archer ariel august aurora autumn
baker ball banks barber baron bass battle beach bean beard beck bell ben bender berg berry best bill bird bishop black
blake blanc blanco bond booth bos bowen branch brandy bravo bray brewer bright brock brook brooks brown buck burns bush
butler butt bae
cain cannon cano carol carpenter carver case cash chad chase cherry christian church clay clement cliff colon combs cook
cooper costa cotton cox craft crane cross crystal curry
daisy dale dan das dawn day dean dick ding don dong drake drew duke dyer
earl england english ernest eve
faith farmer fay fields finch fisher flowers foley ford foreman foster fox frank franks freeman french frost fry fuchs
fuller fitzpatrick
gamble gates gay gene gil gill ginger glass glen golden good goodman grace graf grant graves gray green grimes gross guy
hale hall hardy harley hart hazel head heath heather herring hickman hill holder holland holly hood hope hopper horn
house huff hull hunt hunter
iris ivy
jack jade jan jay jean jordan joy june justice
kaiser key king kirk klein knight koch
lacey lamb lambert lance lane leach lee levy lily lim lima little long love lowe luna lynch lynn
mack madden mai mark marks marsh martin mason matt max may mayo mays meadows melody mercedes miles mills min misty moody
moon mora moss
nana newton nick ngo noble noel
opal
pace page pan paris park parks pastor pat pearl peck penny pierce piper pope porter potter potts powers price prince
randy ray reed rex rice rich riddle roach rob robin roman rose rosemary rowan rowe ruby rush russell ruth
salem sally sandy savage sawyer scarlett sellers sen sharp shepherd shields short sienna singleton skinner slater small
snow son song sparks spears stark stein stern stone stout strong sue summers sun sweet
tang tanner teddy terry tiffany tom trinity tucker
victor victoria villa violet virginia
wade walker wall walls ward ware warren waters watts weaver webster weeks wells west white whitehead wilder will winter
winters wise wolf wolfe wood woods workman
yaw york young
austin bentley brooklyn chelsea chester cleveland dakota dallas devon florence geneva georgia hamilton houston kent
lincoln madison richmond santiago savannah sydney washington
`
    .split(/\s+/)
    .filter((w) => w.length > 0),
);

/** Words after which a capitalised word is a person's name whether or not it is in the list. */
const NAME_TRIGGERS = new Set([
  'dr',
  'doctor',
  'mr',
  'mrs',
  'ms',
  'miss',
  'mx',
  'prof',
  'professor',
  'sir',
  'dame',
  'rev',
  'nurse',
  'patient',
  'pt',
  'name',
  'named',
  'surname',
  'called',
]);

/** Medical nouns that follow an eponym: "Wilson disease", "Baker's cyst", "Jackson-Pratt drain". */
const EPONYM_FOLLOWERS = new Set(
  `
disease diseases syndrome syndromes sign signs fracture fractures lesion lesions catheter catheters drain drains tube
tubes line lines stain stains staining cell cells body bodies node nodes procedure operation classification grade score
scale test maneuver manoeuvre triad murmur ring cyst cysts sarcoma lymphoma tumor tumour palsy esophagus oesophagus
nevus naevus neuroma thyroiditis pin pins wire wires rod rods screw screws nail filter stent prosthesis unit units point
criteria reflex phenomenon effect law space canal duct gland glands membrane capsule ligament tendon fascia artery
vein nerve ganglion plexus triangle pouch area zone rosettes layer apparatus tubule column fibers fibres loop valve
angle view projection position method technique approach incision repair shunt anastomosis suture staging index ratio
sequence artifact artefact malformation anomaly deformity contracture dystrophy atrophy ataxia chorea encephalopathy
aneurysm ulcer spots spot nodule nodules type types splint cast frame traction lens solution formula equation
`
    .split(/\s+/)
    .filter((w) => w.length > 0),
);

interface Detector {
  kind: PhiKind;
  re: RegExp;
  /** Capture group holding the PHI (default: the whole match). */
  group?: number;
  accept?: (m: RegExpExecArray) => boolean;
  /** Cheap linear test that must pass before `re` runs (keeps backtracking-prone patterns off texts that cannot match). */
  precheck?: RegExp;
}

const MONTH =
  '(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)';
const DAY = '(?:0?[1-9]|[12]\\d|3[01])(?:st|nd|rd|th)?';
const YEAR4 = '(?:1[89]\\d\\d|20\\d\\d)';
const YEAR = `(?:${YEAR4}|'\\d\\d|\\d\\d)`;

const digitCount = (s: string): number => (s.match(/\d/g) ?? []).length;
/** Month words that are also everyday words: lowercase, they need a year or an ordinal day to be a date. */
const AMBIGUOUS_MONTH = /^(?:may|mar|march)\b/i;
/** A date without a year counts when its month is capitalised, its day is an ordinal ("march 3rd"), or the month word is unambiguous ("june 21"). */
const dateWithoutYear = (s: string): boolean => {
  const month = MONTH_WORD.exec(s)?.[0] ?? '';
  return monthCapitalised(s) || /\d(?:st|nd|rd|th)\b/i.test(s) || !AMBIGUOUS_MONTH.test(month);
};
const UNITS_WORD = '(?:one|two|three|four|five|six|seven|eight|nine)';
/** 90 and over, spelled out: ninety[-two], (a|one) hundred [and] [one…ninety-nine]. */
const AGE_WORDS = `(?:ninety(?:[\\s-]+${UNITS_WORD})?|(?:a|one)\\s+hundred(?:\\s+(?:and\\s+)?(?:${UNITS_WORD}|ten|eleven|twelve|[a-z]+teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\\s-]+${UNITS_WORD})?)?)`;
/** Dates written without a year need a capitalised month ("1 April"), so "grade 2 may be" is safe. */
const MONTH_WORD = new RegExp(`\\b${MONTH}`, 'iu');
const monthCapitalised = (s: string): boolean => /^\p{Lu}/u.test(MONTH_WORD.exec(s)?.[0] ?? '');
const UNIT_TOKEN =
  /^\d+(?:\.\d+)?(?:mg|mcg|ug|g|kg|ml|l|mm|cm|m|km|hz|khz|mhz|ghz|px|dpi|kb|mb|gb|tb|s|ms|min|h|hr|hrs|x|p|k|mp|bit|bits|kv|kvp|mas|ma|t|nm|um)$/i;

const DETECTORS: Detector[] = [
  { kind: 'url', re: /\b(?:(?:https?|ftp|file):\/\/|www\.)[^\s<>"'`]+/giu },
  {
    kind: 'url',
    re: /\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.(?:com|org|net|edu|gov|mil|int|io|co|uk|us|ca|de|fr|nl|be|ch|at|it|es|se|no|dk|fi|au|nz|jp|cn|in|br|info|biz|health|med|ai|app|dev)\b(?:\/[^\s<>"'`]*)?/giu,
    precheck:
      /\.(?:com|org|net|edu|gov|mil|int|io|co|uk|us|ca|de|fr|nl|be|ch|at|it|es|se|no|dk|fi|au|nz|jp|cn|in|br|info|biz|health|med|ai|app|dev)\b/i,
  },
  { kind: 'email', re: /\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b/giu, precheck: /@/ },
  { kind: 'ip', re: /\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b/g },
  {
    kind: 'record_id',
    re: /\b(?:mrn|medical\s+record(?:\s+(?:number|no\.?|#))?|record\s*(?:number|no\.?|#)|acc(?:ession)?(?:\s*(?:number|no\.?))?|patient\s*(?:id|number|no\.?|#)|pt\s*(?:id|no\.?|#)|case\s*(?:id|number|no\.?|#)|study\s*(?:id|number|no\.?)|specimen\s*(?:id|number|no\.?|#)?|sample\s*(?:id|number|no\.?|#)|ssn|social\s+security(?:\s+(?:number|no\.?))?|nhs\s*(?:number|no\.?)?|chart\s*(?:number|no\.?|#)?|id|uid|account\s*(?:number|no\.?|#)?|acct\.?|member\s*(?:id|number)|insurance\s*(?:id|number)|policy\s*(?:number|no\.?)|licen[cs]e\s*(?:number|no\.?)|serial\s*(?:number|no\.?)|device\s*(?:id|serial))\s*[:#=.-]?\s*#?\s*([a-z0-9][a-z0-9-]*(?:\s+\d[\d-]*)*)/giu,
    group: 1,
    // Digit groups after the keyword are one identifier: "ssn 123 45 6789", "mrn 00 44 8812".
    accept: (m) => digitCount(m[1]!) >= 1 && m[1]!.replace(/\s+/g, '').length >= 3,
  },
  { kind: 'record_id', re: /\b\d{3}-\d{2}-\d{4}\b/g }, // US SSN shape
  {
    // Alphanumeric identifiers (A1234567, AB12-3456): letters and >= 4 digits, 6+ characters.
    kind: 'record_id',
    re: /\b[a-z0-9]+(?:-[a-z0-9]+)*\b/giu, // linear scan; letter/digit mix checked below
    accept: (m) => {
      const t = m[0];
      if (digitCount(t) < 4 || !/\p{L}/u.test(t) || t.replace(/-/g, '').length < 6) return false;
      return !UNIT_TOKEN.test(t) && !/^\d+x\d+$/i.test(t);
    },
  },
  {
    kind: 'date',
    re: new RegExp(
      `\\b${YEAR4}([-/.])(?:0?[1-9]|1[0-2])\\1(?:0?[1-9]|[12]\\d|3[01])(?:[T ]\\d{1,2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})?)?\\b`,
      'g',
    ),
  },
  {
    kind: 'date',
    re: /\b(0?[1-9]|[12]\d|3[01])([-/.])(0?[1-9]|[12]\d|3[01])\2((?:1[89]|20)\d\d|\d\d)\b/g,
    accept: (m) => Number(m[1]) <= 12 || Number(m[3]) <= 12,
  },
  {
    kind: 'date',
    re: new RegExp(`\\b${DAY}(?:\\s+of)?[\\s.-]+${MONTH}\\.?(?:,?[\\s.-]+(${YEAR}))?\\b`, 'giu'),
    accept: (m) => m[1] !== undefined || dateWithoutYear(m[0]),
  },
  {
    kind: 'date',
    re: new RegExp(`\\b${MONTH}\\.?\\s+${DAY}(?:,?\\s+(${YEAR4}|'\\d\\d))?\\b`, 'giu'),
    accept: (m) => m[1] !== undefined || dateWithoutYear(m[0]),
  },
  { kind: 'date', re: new RegExp(`\\b${MONTH}\\.?,?[\\s-]+${YEAR4}\\b`, 'giu') },
  // A birth year is PHI on its own (it gives the age; HIPAA removes years that reveal an age over 89).
  {
    kind: 'date',
    re: /\b(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+in)?)\s*[:=]?\s*((?:1[89]|20)\d\d)\b/giu,
    group: 1,
  },
  {
    kind: 'phone',
    re: /(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,6}(?!\w)/g,
    accept: (m) => digitCount(m[0]) >= 8,
  },
  { kind: 'phone', re: /(?<!\w)\(\d{3}\)\s?\d{3}[\s.-]?\d{4}(?!\w)/g },
  { kind: 'phone', re: /(?<![\w.-])\d{3}([.\s-])\d{3}\1\d{4}(?![\w-])/g },
  {
    kind: 'phone',
    re: /(?<![\w.-])0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4}(?![\w-])/g,
    accept: (m) => digitCount(m[0]) >= 10,
  },
  { kind: 'phone', re: /(?<![\w.-])\d{3}-\d{4}(?![\w-])/g },
  {
    kind: 'phone',
    re: /\b(?:tel|phone|ph|fax|mobile|cell|pager)\.?\s*[:#]?\s*(\+?[\d\s().-]{5,}\d)/giu,
    group: 1,
    accept: (m) => digitCount(m[1]!) >= 6,
  },
  {
    kind: 'address',
    re: /\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Crescent|Close|Square|Highway|Hwy)\b\.?/g,
  },
  { kind: 'address', re: /\bP\.?\s?O\.?\s+Box\s+\d+\b/giu },
  { kind: 'postcode', re: /\b\d{5}-\d{4}\b/g },
  { kind: 'postcode', re: /\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)\s?\d[ABD-HJLNP-UW-Z]{2}\b/g },
  { kind: 'postcode', re: /\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b/g },
  {
    kind: 'postcode',
    re: /\b(?:zip(?:\s*code)?|post\s*code|postal\s*code)\s*[:#]?\s*([a-z0-9][a-z0-9 -]{2,8}[a-z0-9])\b/giu,
    group: 1,
  },
  // HIPAA: ages over 89 must not appear (they are aggregated into "90 or older").
  {
    kind: 'age',
    re: /\b(\d{2,3})\s*-?\s*(?:years?|yrs?|y)\s*-?\s*(?:old|of\s+age|o\.?)\b\.?/giu,
    accept: (m) => Number(m[1]) >= 90,
  },
  {
    kind: 'age',
    re: /\b(\d{2,3})\s*(?:yo|y\/o|y\.o\.?)(?![\w/])/giu,
    accept: (m) => Number(m[1]) >= 90,
  },
  {
    kind: 'age',
    re: /\b(?:age[ds]?|aged)\s*[:=]?\s*(\d{2,3})\b/giu,
    group: 1,
    accept: (m) => Number(m[1]) >= 90,
  },
  { kind: 'age', re: /\b(?:nonagenarian|centenarian|supercentenarian)s?\b/giu },
  // Spelled out: "ninety-two year old", "one hundred and one years old", "aged ninety five", "in her nineties".
  {
    kind: 'age',
    re: new RegExp(`\\b${AGE_WORDS}\\s*-?\\s*(?:years?|yrs?)\\s*-?\\s*(?:old|of\\s+age)\\b`, 'giu'),
  },
  {
    kind: 'age',
    re: new RegExp(`\\b(?:age[ds]?|aged)\\s*[:=]?\\s*(${AGE_WORDS})\\b`, 'giu'),
    group: 1,
  },
  {
    kind: 'age',
    re: /\bin\s+(?:his|her|their|the)\s+(?:late\s+|early\s+|mid\s+)?(?:nineties|hundreds)\b/giu,
  },
  // Hospitals and clinics by name ("St Mary's Hospital", "Royal Free Hospital"): a place that narrows who the patient is.
  {
    kind: 'place',
    re: /\b(?:(?:St\.?|Saint)\s+)?(?:\p{Lu}[\p{L}'’.-]*\s+){1,4}(?:Hospital|Infirmary|Clinic|Medical\s+Cent(?:er|re)|Health\s+(?:Cent(?:er|re)|System)|Hospice|Cancer\s+Cent(?:er|re)|Sanatorium)s?\b/gu,
  },
  { kind: 'digits', re: /(?<!\d)\d{5,}(?!\d)/g },
];

function detectPatterns(text: string): PhiSpan[] {
  const spans: PhiSpan[] = [];
  for (const d of DETECTORS) {
    if (d.precheck && !d.precheck.test(text)) continue;
    d.re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = d.re.exec(text)) !== null) {
      if (m[0].length === 0) {
        d.re.lastIndex++;
        continue;
      }
      if (d.accept && !d.accept(m)) continue;
      let start = m.index;
      let value = m[0];
      if (d.group !== undefined) {
        const g = m[d.group];
        if (g === undefined) continue;
        start = m.index + m[0].lastIndexOf(g);
        value = g;
      }
      if (d.kind === 'url') value = value.replace(/[.,;:!?)\]]+$/u, ''); // trailing sentence punctuation is not part of a URL
      spans.push({ start, end: start + value.length, kind: d.kind });
    }
  }
  return spans;
}

interface Token {
  start: number;
  end: number;
  raw: string;
  /** Lowercase, diacritics stripped, possessive removed. */
  norm: string;
  possessive: boolean;
  shape: 'lower' | 'title' | 'upper' | 'initial';
}

const TOKEN_RE =
  /\p{L}[\p{L}\p{M}]*(?:['’]\p{L}[\p{L}\p{M}]*)*(?:-\p{L}[\p{L}\p{M}]*(?:['’]\p{L}[\p{L}\p{M}]*)*)*['’]?/gu;

function normalizeWord(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').replace(/’/g, "'").toLowerCase();
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  TOKEN_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TOKEN_RE.exec(text)) !== null) {
    let raw = m[0];
    let possessive = false;
    const poss = /['’]s$/iu.exec(raw);
    if (poss && raw.length > 2) {
      raw = raw.slice(0, -2);
      possessive = true;
    } else if (/['’]$/u.test(raw)) {
      raw = raw.slice(0, -1);
      possessive = true;
    }
    const letters = raw.replace(/[^\p{L}]/gu, '');
    let shape: Token['shape'];
    if (letters.length === 1 && /\p{Lu}/u.test(letters) && text[m.index + 1] === '.')
      shape = 'initial';
    else if (/^\p{Lu}/u.test(raw))
      shape = letters.length >= 2 && letters === letters.toUpperCase() ? 'upper' : 'title';
    else shape = 'lower';
    tokens.push({
      start: m.index,
      end: m.index + raw.length,
      raw,
      norm: normalizeWord(raw),
      possessive,
      shape,
    });
  }
  return tokens;
}

function inNames(norm: string, names: ReadonlySet<string>): boolean {
  if (names.has(norm)) return true;
  if (norm.includes('-')) return norm.split('-').every((p) => p.length > 0 && names.has(p));
  return false;
}

function isAmbiguous(norm: string): boolean {
  if (norm.includes('-')) return norm.split('-').every((p) => isAmbiguous(p));
  return norm.replace(/'/g, '').length <= 2 || AMBIGUOUS_NAME_WORDS.has(norm);
}

/** True when only spaces (after an initial, its period) separate the tokens; ALL-CAPS pairs may also be "SMITH, JOHN". */
function adjacent(text: string, a: Token, b: Token): boolean {
  if (a.end >= b.start) return false;
  const gap = text.slice(a.end, b.start);
  if (/^\s+$/u.test(gap)) return true;
  if (a.shape === 'initial' && /^\.\s*$/u.test(gap)) return true;
  return a.shape === 'upper' && b.shape === 'upper' && /^,\s+$/u.test(gap);
}

function detectNames(text: string, names: ReadonlySet<string>): PhiSpan[] {
  const tokens = tokenize(text);
  const n = tokens.length;
  const capitalised = (t: Token): boolean => t.shape === 'title' || t.shape === 'upper';
  const listed = tokens.map((t) => inNames(t.norm, names));
  // strong: a listed name that is not an everyday word (any case); weak: an everyday word that is a listed name, capitalised.
  const strong = tokens.map(
    (t, i) => listed[i]! && !isAmbiguous(t.norm) && (t.shape === 'lower' || t.shape === 'title'),
  );
  const weak = tokens.map(
    (t, i) =>
      listed[i]! && !strong[i] && capitalised(t) && !(t.shape === 'upper' && t.norm.length <= 3),
  );
  const isName = new Array<boolean>(n).fill(false);
  const fromTrigger = new Array<boolean>(n).fill(false);

  for (let i = 0; i < n; i++) if (strong[i]) isName[i] = true;

  // After an honorific or "patient", up to three capitalised words (and initials) are a name, listed or not.
  for (let i = 0; i < n; i++) {
    if (!NAME_TRIGGERS.has(tokens[i]!.norm)) continue;
    const gap = text.slice(tokens[i]!.end, tokens[i + 1]?.start ?? text.length);
    if (!/^\.?\s*[:,-]?\s*$/u.test(gap)) continue;
    let taken = 0;
    for (let j = i + 1; j < n && taken < 3; j++) {
      const t = tokens[j]!;
      if (!(capitalised(t) || t.shape === 'initial' || strong[j])) break;
      if (NAME_TRIGGERS.has(t.norm)) break;
      if (j > i + 1 && !adjacent(text, tokens[j - 1]!, t)) break;
      isName[j] = true;
      fromTrigger[j] = true;
      taken++;
      if (t.possessive) break;
    }
  }

  // Everyday-word names count when next to another name ("Grace Brown", "Will Smith").
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = 0; i < n; i++) {
      if (isName[i] || !weak[i]) continue;
      const prevName =
        i > 0 &&
        (isName[i - 1] || weak[i - 1]) &&
        capitalisedOrStrong(i - 1) &&
        adjacent(text, tokens[i - 1]!, tokens[i]!);
      const nextName =
        i + 1 < n &&
        (isName[i + 1] || weak[i + 1]) &&
        capitalisedOrStrong(i + 1) &&
        adjacent(text, tokens[i]!, tokens[i + 1]!);
      const afterInitial =
        i > 0 && tokens[i - 1]!.shape === 'initial' && adjacent(text, tokens[i - 1]!, tokens[i]!);
      if (prevName || nextName || afterInitial) {
        isName[i] = true;
        changed = true;
      }
    }
  }
  function capitalisedOrStrong(i: number): boolean {
    return capitalised(tokens[i]!) || strong[i]!;
  }

  // A capitalised name followed (maybe after initials) by an unknown capitalised word: that word is likely the surname.
  for (let i = 0; i + 1 < n; i++) {
    if (!isName[i] || tokens[i]!.shape !== 'title' || tokens[i]!.possessive) continue;
    let j = i + 1;
    while (j < n && tokens[j]!.shape === 'initial' && adjacent(text, tokens[j - 1]!, tokens[j]!))
      j++;
    const next = tokens[j];
    if (next === undefined || !adjacent(text, tokens[j - 1]!, next)) continue;
    if (next.shape === 'title' && !isName[j] && !listed[j] && !EPONYM_FOLLOWERS.has(next.norm)) {
      for (let q = i + 1; q <= j; q++) isName[q] = true;
    }
  }

  // Initials directly before a name ("J. Smith", "John A. Smith") belong to it.
  for (let i = n - 2; i >= 0; i--)
    if (
      tokens[i]!.shape === 'initial' &&
      isName[i + 1] &&
      adjacent(text, tokens[i]!, tokens[i + 1]!)
    )
      isName[i] = true;

  // Group consecutive name tokens into spans.
  const spans: PhiSpan[] = [];
  let i = 0;
  while (i < n) {
    if (!isName[i]) {
      i++;
      continue;
    }
    let j = i;
    while (
      j + 1 < n &&
      isName[j + 1] &&
      !tokens[j]!.possessive &&
      adjacent(text, tokens[j]!, tokens[j + 1]!)
    )
      j++;
    const single = i === j; // with a first name or an initial it is a person, not an eponym
    const follower = tokens[j + 1];
    // A lone surname before a medical noun is an eponym ("Wilson disease", "Baker's cyst"), unless an honorific made it a name.
    const eponym =
      single &&
      !fromTrigger[j] &&
      follower !== undefined &&
      EPONYM_FOLLOWERS.has(follower.norm) &&
      /^(?:['’]s?)?\s+$/u.test(text.slice(tokens[j]!.end, follower.start));
    if (!eponym) spans.push({ start: tokens[i]!.start, end: tokens[j]!.end, kind: 'name' });
    i = j + 1;
  }
  return spans;
}

/** All PHI spans in text, non-overlapping, in text order. */
export function findPhi(text: string, names: ReadonlySet<string>): PhiSpan[] {
  const candidates = [...detectPatterns(text), ...detectNames(text, names)];
  candidates.sort(
    (a, b) =>
      PRIORITY.indexOf(a.kind) - PRIORITY.indexOf(b.kind) ||
      b.end - b.start - (a.end - a.start) ||
      a.start - b.start,
  );
  const taken: PhiSpan[] = [];
  for (const c of candidates)
    if (!taken.some((t) => c.start < t.end && t.start < c.end)) taken.push(c);
  return taken.sort((a, b) => a.start - b.start);
}

/** Latin look-alikes of Cyrillic and Greek letters ("Jоhn" with a Cyrillic о reads as John). */
const CONFUSABLES: Record<string, string> = Object.fromEntries(
  [
    ['аa', 'еe', 'оo', 'рp', 'сc', 'уy', 'хx', 'іi', 'јj', 'ѕs', 'һh', 'ԁd', 'ԛq', 'ԝw', 'ӏl'],
    ['АA', 'ВB', 'ЕE', 'КK', 'МM', 'НH', 'ОO', 'РP', 'СC', 'ТT', 'ХX', 'ІI', 'ЈJ', 'ЅS', 'ҮY'],
    ['αa', 'οo', 'ρp', 'νv', 'ιi', 'κk', 'τt', 'υu', 'χx'],
    ['ΑA', 'ΒB', 'ΕE', 'ΖZ', 'ΗH', 'ΙI', 'ΚK', 'ΜM', 'ΝN', 'ΟO', 'ΡP', 'ΤT', 'ΥY', 'ΧX'],
  ]
    .flat()
    .map((pair) => [pair[0]!, pair[1]!]),
);

/**
 * What the scrub reads: NFKC (full-width digits and letters, ligatures, superscripts become plain),
 * invisible format characters (zero-width spaces and joiners, soft hyphens) removed, and Cyrillic /
 * Greek look-alikes folded to Latin. The scrubbed caption is this text, so nothing the rules could
 * not see leaves.
 */
export function foldForScrub(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .replace(/[\u0370-\u03ff\u0400-\u052f]/gu, (c) => CONFUSABLES[c] ?? c);
}

/** Scrub one caption: redact every PHI match with its tag, or drop the caption when it has any. */
export function scrubPhi(raw: string, options: PhiScrubOptions): PhiScrubResult {
  const text = foldForScrub(raw);
  const spans = findPhi(text, options.names);
  const counts = new Map<PhiKind, number>();
  for (const s of spans) counts.set(s.kind, (counts.get(s.kind) ?? 0) + 1);
  const findings = PRIORITY.filter((k) => counts.has(k)).map((kind) => ({
    kind,
    count: counts.get(kind)!,
  }));
  // Why drop: some studies forbid partially redacted free text; nothing of a flagged caption leaves.
  if (options.action === 'drop' && spans.length > 0)
    return { text: null, findings, redacted: spans.length };
  let out = '';
  let pos = 0;
  for (const s of spans) {
    out += text.slice(pos, s.start) + PHI_TAGS[s.kind];
    pos = s.end;
  }
  out += text.slice(pos);
  return { text: out, findings, redacted: spans.length };
}
