import type { Command } from '../command';
import { benchCommand } from './bench';
import { demoCommand } from './demo';
import { experimentPaperCommand } from './experiment-paper';
import { modelsMakeTinyCommand } from './models-make-tiny';
import { sampleDataCommand } from './sample-data';
import { makeServerRoundRunCommand } from './server-round-run';
import { serverSiteEnrollCommand } from './server-site-enroll';
import { makeServerStartCommand } from './server-start';
import { diffusionStagesFactory } from './server-stages';
import { serverStudyCreateCommand } from './server-study-create';
import { sitePrepareCommand } from './site-prepare';
import { siteEnrollCommand, siteModelPullCommand, siteUploadCommand } from './site-federation';
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
  siteScanCommand,
  sitePrepareCommand,
  siteUploadCommand,
  siteModelPullCommand,
  siteEvaluateCommand,
  siteUiCommand,
  studyInitCommand,
  makeServerStartCommand(diffusionStagesFactory),
  serverStudyCreateCommand,
  serverSiteEnrollCommand,
  makeServerRoundRunCommand(diffusionStagesFactory),
  modelsMakeTinyCommand,
  sampleDataCommand,
  experimentPaperCommand,
  benchCommand,
];
