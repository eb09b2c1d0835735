import type { Command, CommandContext } from '../command';
import { requireString, UsageError } from '../command';
import { progressPrinter } from '../progress-printer';
import { loadStudy } from '../study/load-study';
import { siteHome, sitePaths } from '../../site/site-home';
import type { SiteModelsInstall } from '../../shared/site-model-bundle';

function report(ctx: CommandContext, r: SiteModelsInstall, verb: string): void {
  ctx.out.result(r, () =>
    [
      `Site models of ${r.studyId} in ${r.dir} (${r.bytes} bytes ${verb}):`,
      ...r.models.map(
        (m) =>
          `  ${m.role.padEnd(9)} ${m.id}  sha256 ${m.sha256.slice(0, 12)}…  ${m.files} files, ${m.bytes} bytes  ${m.source === 'already' ? 'already installed (verified)' : `${m.source}, every file checked by sha256`}`,
      ),
      `Use them: fgl site prepare --models ${r.dir} …  (app: Settings → models folder)`,
    ].join('\n'),
  );
}

export const siteModelsFetchCommand: Command = {
  path: ['site', 'models', 'fetch'],
  summary: 'get the models this site runs (encoder, CLIP, captioner) from the study server',
  description: `
Downloads the site-side models the study pins (the conditioning encoder, CLIP and the captioner;
never the generator) from the study server this site enrolled with: usually the one host a
hospital firewall lets it reach. The server's file list must add up to the study manifest's
digest before anything is fetched; each file resumes from a partial copy with HTTP Range after
a dropped connection or Ctrl-C, and is checked by sha256 as it arrives. Only when every model
checks out are they installed, atomically, into $FGL_HOME/models/studies/<study>/.

--from-hub fetches them from the Hugging Face hub instead, by the study's model ids, and only
with explicit consent (FGL_ALLOW_NETWORK=1); they are checked against the study's digests the
same way. Without --from-hub nothing but the study server is contacted.`,
  options: {
    study: { type: 'string', value: 'ID|FILE', description: 'study id (this site must be enrolled in it; with --from-hub also a manifest file)' },
    'from-hub': { type: 'boolean', description: 'fetch from the Hugging Face hub (needs FGL_ALLOW_NETWORK=1)' },
  },
  examples: ['fgl site models fetch --study shapes-1a2b3c', 'FGL_ALLOW_NETWORK=1 fgl site models fetch --study shapes-1a2b3c --from-hub'],
  async run(ctx) {
    const studyId = requireString(ctx, 'study');
    const onProgress = progressPrinter(ctx.out);
    const paths = sitePaths(siteHome());
    if (ctx.values['from-hub'] === true) {
      const study = await loadStudy(studyId, paths);
      const [{ fetchSiteModelsFromHub }, { networkAllowedByEnv }] = await Promise.all([
        import('../../site/client/site-models-install'),
        import('../../core/models/model-store'),
      ]);
      const r = await fetchSiteModelsFromHub(study, {
        modelsRoot: paths.models,
        cacheDir: paths.models,
        allowNetwork: networkAllowedByEnv(),
        signal: ctx.signal,
        ...(onProgress ? { onProgress } : {}),
      });
      report(ctx, r, 'installed from the hub');
      return;
    }
    const [{ Ledger }, { fetchSiteModels }] = await Promise.all([import('../../site/ledger/ledger'), import('../../site/client/site-models-install')]);
    const ledger = Ledger.open(paths.ledger);
    try {
      const r = await fetchSiteModels(ledger, studyId, { modelsRoot: paths.models, signal: ctx.signal, ...(onProgress ? { onProgress } : {}) });
      report(ctx, r, 'downloaded');
    } finally {
      ledger.close();
    }
  },
};

export const siteModelsImportCommand: Command = {
  path: ['site', 'models', 'import'],
  summary: 'install the site models from a folder or USB bundle, verified against the study',
  description: `
Installs the site-side models the study pins from a folder: a bundle the study coordinator
hands out (e.g. on a USB stick), another site's $FGL_HOME/models/studies/<study>, or a models
folder with encoder/ (or generator/), clip/ and captioner/. Each model's digest is checked
against the study manifest before anything is copied, and every copy is hashed again before it
is installed into $FGL_HOME/models/studies/<study>/. A model that does not match is refused and
nothing is installed.`,
  options: {
    study: { type: 'string', value: 'ID|FILE', description: 'study id (its manifest from the server, or the copy kept offline) or a manifest JSON file' },
  },
  positionals: 'DIR',
  examples: ['fgl site models import --study shapes-1a2b3c /media/usb/fgl-models'],
  async run(ctx) {
    const dir = ctx.positionals[0];
    if (!dir || ctx.positionals.length > 1)
      throw new UsageError('give exactly one folder to import from', 'e.g. fgl site models import --study shapes-1a2b3c /media/usb/fgl-models');
    const paths = sitePaths(siteHome());
    const study = await loadStudy(requireString(ctx, 'study'), paths);
    const onProgress = progressPrinter(ctx.out);
    const { importSiteModels } = await import('../../site/client/site-models-install');
    const r = await importSiteModels(study, dir, { modelsRoot: paths.models, signal: ctx.signal, ...(onProgress ? { onProgress } : {}) });
    report(ctx, r, 'copied');
  },
};
