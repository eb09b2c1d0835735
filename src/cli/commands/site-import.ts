import { readFile } from 'node:fs/promises';
import { type Command, UsageError, intOption, optionalString, requireString } from '../command';
import { progressPrinter } from '../progress-printer';
import { type DicomwebAuth, importFromDicomweb } from '../../site/import/dicomweb-import';

function auth(ctx: Parameters<Command['run']>[0]): DicomwebAuth | undefined {
  const user = optionalString(ctx, 'user');
  const bearer = ctx.values.bearer === true;
  if (user && bearer)
    throw new UsageError('--user and --bearer both give credentials', 'Use one of them');
  if (user) {
    const password = process.env.FGL_DICOMWEB_PASSWORD;
    if (!password)
      throw new UsageError(
        '--user needs the password in FGL_DICOMWEB_PASSWORD',
        'Set it in the environment (never on the command line)',
      );
    return { kind: 'basic', user, password };
  }
  if (bearer) {
    const token = process.env.FGL_DICOMWEB_TOKEN;
    if (!token)
      throw new UsageError(
        '--bearer needs the token in FGL_DICOMWEB_TOKEN',
        'Set it in the environment',
      );
    return { kind: 'bearer', token };
  }
  return undefined;
}

export const siteImportCommand: Command = {
  path: ['site', 'import'],
  summary: 'Fetch images from a PACS over DICOMweb into a local, read-only folder to scan',
  description: [
    'Searches the PACS at --dicomweb over QIDO-RS for studies (by --modality, --study-description,',
    '--from/--to dates), then retrieves every instance of them over WADO-RS, as stored (no',
    'transcoding), into --out: one folder per study, one read-only .dcm per instance, named by a',
    'hash of its UID (no identifier in any path). A rerun resumes: instances already there are not',
    'fetched again. Then scan or prepare --out, labelling by folder is not possible here: use',
    '--label-attribute StudyDescription|SeriesDescription|Modality or a manifest keyed by',
    'sop_instance_uid / study_instance_uid.',
    '',
    'Credentials come from the environment: --user NAME with FGL_DICOMWEB_PASSWORD (basic), or',
    '--bearer with FGL_DICOMWEB_TOKEN. --ca FILE pins the CA that issued the PACS certificate:',
    'it becomes the only trust anchor for this connection.',
  ].join('\n'),
  options: {
    dicomweb: {
      type: 'string',
      value: 'URL',
      description: 'DICOMweb root of the PACS, e.g. https://pacs.example.org/dicom-web',
    },
    out: {
      type: 'string',
      value: 'DIR',
      description: 'local cache folder the images land in (created if missing)',
    },
    modality: {
      type: 'string',
      value: 'CODE',
      description: 'studies with this modality, e.g. CT, MR, CR',
    },
    'study-description': {
      type: 'string',
      value: 'TEXT',
      description: 'studies whose description matches (DICOM wildcards * and ?)',
    },
    from: { type: 'string', value: 'YYYYMMDD', description: 'studies on or after this date' },
    to: { type: 'string', value: 'YYYYMMDD', description: 'studies on or before this date' },
    limit: { type: 'string', value: 'N', description: 'at most N studies' },
    user: {
      type: 'string',
      value: 'NAME',
      description: 'basic auth user; the password is read from FGL_DICOMWEB_PASSWORD',
    },
    bearer: { type: 'boolean', description: 'bearer auth with the token in FGL_DICOMWEB_TOKEN' },
    ca: {
      type: 'string',
      value: 'FILE',
      description: 'PEM of the CA the PACS certificate must chain to (pinned)',
    },
  },
  examples: [
    'fgl site import --dicomweb https://pacs.example.org/dicom-web --modality CR --from 20240101 --to 20241231 --out ./pacs-cache --user fgl --ca ./pacs-ca.pem',
    'fgl site scan ./pacs-cache --label-attribute StudyDescription',
  ],
  async run(ctx) {
    if (ctx.positionals.length > 0)
      throw new UsageError(`unexpected arguments: ${ctx.positionals.join(' ')}`);
    const caFile = optionalString(ctx, 'ca');
    let caPem: string | undefined;
    if (caFile) {
      caPem = await readFile(caFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read --ca ${caFile} (${e.code ?? e.message})`);
      });
      if (!caPem.includes('BEGIN CERTIFICATE'))
        throw new UsageError(`--ca ${caFile} is not a PEM certificate`);
    }
    const limit = intOption(ctx, 'limit', 0, 0);
    const a = auth(ctx);
    const from = optionalString(ctx, 'from');
    const to = optionalString(ctx, 'to');
    const modality = optionalString(ctx, 'modality');
    const studyDescription = optionalString(ctx, 'study-description');
    const r = await importFromDicomweb({
      url: requireString(ctx, 'dicomweb'),
      outDir: requireString(ctx, 'out'),
      query: {
        ...(modality ? { modality } : {}),
        ...(studyDescription ? { studyDescription } : {}),
        ...(from ? { dateFrom: from } : {}),
        ...(to ? { dateTo: to } : {}),
        ...(limit > 0 ? { limit } : {}),
      },
      ...(a ? { auth: a } : {}),
      ...(caPem ? { caPem } : {}),
      signal: ctx.signal,
      onProgress: progressPrinter(ctx.out),
    });
    ctx.out.result(r, () =>
      [
        `${r.studies} stud${r.studies === 1 ? 'y' : 'ies'}, ${r.instances} instance(s) in ${r.outDir}`,
        `retrieved ${r.downloaded}, already there ${r.alreadyPresent} (${(r.bytes / 1e6).toFixed(1)} MB)`,
        `Next: fgl site scan ${r.outDir} --label-attribute StudyDescription`,
      ].join('\n'),
    );
    return r.instances === 0 ? 1 : 0;
  },
};
