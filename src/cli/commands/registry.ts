import type { Command } from '../command';
import { benchCommand } from './bench';
import { demoCommand } from './demo';
import { modelsMakeRealSizeCommand } from './models-make-real-size';
import { experimentMembershipCommand } from './experiment-membership';
import { experimentPaperCommand } from './experiment-paper';
import { modelsMakeTinyCommand } from './models-make-tiny';
import { sampleDataCommand } from './sample-data';
import { makeServerRoundRunCommand } from './server-round-run';
import {
  serverSiteEnrollCommand,
  serverSiteListCommand,
  serverSiteReissueCommand,
  serverSiteRevokeCommand,
} from './server-site';
import { serverRoundStatusCommand } from './server-round-status';
import { makeServerStartCommand } from './server-start';
import { diffusionStagesFactory } from './server-stages';
import { serverStudyCreateCommand } from './server-study-create';
import { serverWorkerCommand, serverWorkerEnrollCommand } from './server-worker';
import { sitePrepareCommand } from './site-prepare';
import { siteEnrollCommand, siteModelPullCommand, siteUploadCommand } from './site-federation';
import { siteImportCommand } from './site-import';
import { siteModelsFetchCommand, siteModelsImportCommand } from './site-models';
import { siteScanCommand } from './site-scan';
import { siteUiCommand } from './site-ui';
import { siteEvaluateCommand } from './site-evaluate';
import { studyInitCommand } from './study-init';

/**
 * Every `fgl` command, in the order `fgl --help` lists them. Each lives in its own file in this
 * folder and is registered here, the one place the CLI learns about it.
 */
export const commands: readonly Command[] = [
  demoCommand,
  siteEnrollCommand,
  siteImportCommand,
  siteScanCommand,
  sitePrepareCommand,
  siteUploadCommand,
  siteModelPullCommand,
  siteModelsFetchCommand,
  siteModelsImportCommand,
  siteEvaluateCommand,
  siteUiCommand,
  studyInitCommand,
  makeServerStartCommand(diffusionStagesFactory),
  serverStudyCreateCommand,
  serverSiteEnrollCommand,
  serverSiteListCommand,
  serverSiteRevokeCommand,
  serverSiteReissueCommand,
  makeServerRoundRunCommand(diffusionStagesFactory),
  serverRoundStatusCommand,
  serverWorkerEnrollCommand,
  serverWorkerCommand,
  modelsMakeTinyCommand,
  modelsMakeRealSizeCommand,
  sampleDataCommand,
  experimentPaperCommand,
  experimentMembershipCommand,
  benchCommand,
];
