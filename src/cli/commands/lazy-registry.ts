import type { Command } from '../command';

/**
 * How the fast start-up path (src/cli/fast-main.ts) loads one command without importing the
 * others and their heavy dependencies (ONNX Runtime, sharp, tfjs, fastify). Keyed by the path in
 * registry.ts, which stays the one list of commands: tests/cli/cli-startup.test.ts checks that
 * both name the same commands, and a command missing here still runs (through the full registry).
 */
export const commandLoaders: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo')).demoCommand,
  'site enroll': async () => (await import('./site-federation')).siteEnrollCommand,
  'site import': async () => (await import('./site-import')).siteImportCommand,
  'site scan': async () => (await import('./site-scan')).siteScanCommand,
  'site prepare': async () => (await import('./site-prepare')).sitePrepareCommand,
  'site upload': async () => (await import('./site-federation')).siteUploadCommand,
  'site model pull': async () => (await import('./site-federation')).siteModelPullCommand,
  'site models fetch': async () => (await import('./site-models')).siteModelsFetchCommand,
  'site models import': async () => (await import('./site-models')).siteModelsImportCommand,
  'site evaluate': async () => (await import('./site-evaluate')).siteEvaluateCommand,
  'site ui': async () => (await import('./site-ui')).siteUiCommand,
  'study init': async () => (await import('./study-init')).studyInitCommand,
  'server start': async () => {
    const [{ makeServerStartCommand }, { diffusionStagesFactory }] = await Promise.all([import('./server-start'), import('./server-stages')]);
    return makeServerStartCommand(diffusionStagesFactory);
  },
  'server study create': async () => (await import('./server-study-create')).serverStudyCreateCommand,
  'server site enroll': async () => (await import('./server-site')).serverSiteEnrollCommand,
  'server site list': async () => (await import('./server-site')).serverSiteListCommand,
  'server site revoke': async () => (await import('./server-site')).serverSiteRevokeCommand,
  'server site reissue': async () => (await import('./server-site')).serverSiteReissueCommand,
  'server round status': async () => (await import('./server-round-status')).serverRoundStatusCommand,
  'server worker enroll': async () => (await import('./server-worker')).serverWorkerEnrollCommand,
  'server worker': async () => (await import('./server-worker')).serverWorkerCommand,
  'server round run': async () => {
    const [{ makeServerRoundRunCommand }, { diffusionStagesFactory }] = await Promise.all([import('./server-round-run'), import('./server-stages')]);
    return makeServerRoundRunCommand(diffusionStagesFactory);
  },
  'models make-real-size': async () => (await import('./models-make-real-size')).modelsMakeRealSizeCommand,
  'models make-tiny': async () => (await import('./models-make-tiny')).modelsMakeTinyCommand,
  'sample-data': async () => (await import('./sample-data')).sampleDataCommand,
  'experiment paper': async () => (await import('./experiment-paper')).experimentPaperCommand,
  'experiment membership': async () => (await import('./experiment-membership')).experimentMembershipCommand,
  bench: async () => (await import('./bench')).benchCommand,
};
